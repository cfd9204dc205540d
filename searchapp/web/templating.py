"""What every template may call: link builders, date and text filters, the facet table."""

from __future__ import annotations

from flask import Flask

from searchapp.web import dates, paging, text, urls
from searchapp.web.params import FACET_LABELS, FACET_PARAMS


def register(app: Flask) -> None:
    """Make the helpers available to every template."""
    app.jinja_env.globals.update(
        search_url=urls.search_url,
        page_url=urls.page_url,
        toggle_url=urls.toggle_url,
        filter_url=urls.filter_url,
        export_url=urls.export_url,
        article_url=urls.article_url,
        clear_filters_url=urls.clear_filters_url,
        page_numbers=paging.page_numbers,
        input_date=dates.input_date,
        FACET_PARAMS=FACET_PARAMS,
        FACET_LABELS=FACET_LABELS,
    )
    app.jinja_env.filters.update(
        short_date=dates.short_date,
        local_datetime=dates.local_datetime,
        period_label=dates.period_label,
        paragraphs=text.paragraphs,
        mark_words=text.mark_words,
        thousands=lambda n: f"{n:,}",
        code_spans=text.code_spans,
        results_word=lambda n: "story" if n == 1 else "stories",
    )
