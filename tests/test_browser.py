"""The search page in a real browser: `searchapp serve` on loopback, driven by Debian's chromium.

Skipped, with the reason, when Playwright or chromium is missing. Every test fails on any console
error or page error, which includes Content-Security-Policy violations.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SECTIONS = ("Economy", "Energy", "Metals", "Politics")
WORDS = (
    "coffee prices rose",
    "oil output fell",
    "gold traded higher",
    "wheat exports grew",
    "talks continued",
)
PEOPLE = ("James Baker", "Paul Volcker", "Vladimir Putin")
TIMEOUT_MS = 10_000


def _chromium() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stories() -> Iterator[dict[str, Any]]:
    """Sixty stories: words and sections cycle at different rates, over two years."""
    for i in range(60):
        words = WORDS[i % 5]
        month = 1 + i % 12
        yield {
            "id": f"b{i:03d}",
            "title": f"{words.capitalize()}, report {i}",
            "lead": f"Report {i}: {words}.",
            "body": f"LONDON. Traders said {words} on day {i}.\n\nMore on {WORDS[(i + 2) % 5]}.",
            "date": f"{2016 + i % 2}-{month:02d}-{1 + i % 28:02d}T10:00:00+00:00",
            "section": SECTIONS[i % 4],
            "topics": [words.split()[0]],
            "persons": [PEOPLE[i % 3]],
            "place": "London",
            "photo_credit": "",
        }


@pytest.fixture(scope="session")
def browser_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the browser corpus, built once per session."""
    from searchapp.indexer import index_corpus

    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus" / "stories.jsonl"
    corpus.parent.mkdir()
    corpus.write_text("".join(json.dumps(s) + "\n" for s in _stories()), encoding="utf-8")
    index_corpus(corpus, root / "index")
    return root / "index"


@pytest.fixture(scope="session")
def server(browser_index: Path) -> Iterator[str]:
    """Run `searchapp serve` (waitress) on a free loopback port; yield its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "searchapp.cli",
            "serve",
            "--index",
            str(browser_index),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            "4",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                with urllib.request.urlopen(base + "/api/openapi.json", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"searchapp serve did not start: {output[-2000:]}")
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright, or a skip saying what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    executable = _chromium()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Problems:
    """Console errors and page errors (CSP violations are console errors in Chromium)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.errors.append(f"console {message.type}: {message.text}")


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh page; the test fails if anything was logged as an error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = Problems(tab)
    tab.base = server
    yield tab
    context.close()
    assert problems.errors == []


def params(url: str) -> dict[str, list[str]]:
    """Return a URL's query parameters."""
    return parse_qs(urlsplit(url).query)


def test_search_filter_drill_down_and_read(page: Any) -> None:
    page.goto(page.base + "/")
    box = page.locator("#q")
    assert box.evaluate("el => el === document.activeElement")  # autofocus
    box.fill("oil")
    with page.expect_navigation():
        box.press("Enter")
    # Typed from the archive (newest first), a query is still ranked by relevance.
    assert "sort" not in params(page.url)
    assert page.locator("#sort").input_value() == "relevance"
    marks = page.locator(".hit-snippet mark")
    assert marks.count() > 0
    assert marks.first.inner_text().lower() == "oil"
    total_all = int(page.locator(".summary strong").inner_text())

    # Tick two sections: each change submits the GET form (multi-select, OR within a facet).
    for section in ("Energy", "Metals"):
        with page.expect_navigation():
            page.locator(f'input[name="section"][value="{section}"]').check()
    query = params(page.url)
    assert query["q"] == ["oil"] and sorted(query["section"]) == ["Energy", "Metals"]
    assert page.locator('input[name="section"]:checked').count() == 2
    assert int(page.locator(".summary strong").inner_text()) < total_all
    assert page.locator(".chip").count() == 2

    # Click a histogram bar: the dates narrow to that period, the filters stay.
    bar = page.locator("svg.histogram a.bar-link").first
    label = bar.get_attribute("aria-label")
    with page.expect_navigation():
        bar.click()
    query = params(page.url)
    assert query["from"] == query["to"] and sorted(query["section"]) == ["Energy", "Metals"]
    assert label and label.split(":")[0] in page.locator(".trail").inner_text()
    assert page.locator(".hit").count() > 0

    # Open an article: the whole story, with tags as filter links.
    title = page.locator(".hit-title a").first
    heading = title.inner_text()
    with page.expect_navigation():
        title.click()
    assert page.locator("h1.story-title").inner_text() == heading
    assert page.locator(".story-body p").count() == 2
    assert page.locator(".story-tags a.tag-person").count() == 1


def test_page_forward_and_back(page: Any) -> None:
    page.goto(page.base + "/")
    first_page = page.locator(".hit-title a").all_inner_texts()
    with page.expect_navigation():
        page.locator('a[rel="next"]').click()
    assert params(page.url)["page"] == ["2"]
    assert page.locator('.page-current[aria-current="page"]').inner_text() == "2"
    second_page = page.locator(".hit-title a").all_inner_texts()
    assert second_page and not set(first_page) & set(second_page)
    page.go_back()
    assert page.locator(".hit-title a").all_inner_texts() == first_page


def test_autocomplete_and_keyboard(page: Any) -> None:
    page.goto(page.base + "/?q=oil")
    page.locator("body").press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.locator("#q").fill("")
    page.locator("#q").press_sequentially("vladi", delay=20)
    option = page.locator("#suggestions li", has_text="Vladimir Putin")
    option.wait_for(state="visible")
    page.locator("#q").press("ArrowDown")
    with page.expect_navigation():
        page.locator("#q").press("Enter")
    assert params(page.url).get("person") == ["Vladimir Putin"]
    assert page.locator('input[name="person"][value="Vladimir Putin"]').is_checked()
    # j focuses the first result title, k stays on it
    page.locator("#q").press("Escape")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.closest('.hit-title') !== null")


def test_sort_and_filters_without_javascript(browser: Any, server: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/?q=gold")
    page.locator('input[name="section"]').first.check()
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    assert "section" in params(page.url) and params(page.url)["q"] == ["gold"]
    page.locator("#sort").select_option("oldest")
    with page.expect_navigation():
        page.get_by_role("button", name="Sort").click()
    assert params(page.url)["sort"] == ["oldest"]
    context.close()


def test_narrow_screen_folds_the_filters(browser: Any, server: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    problems = Problems(page)
    page.goto(server + "/?q=oil")
    assert page.locator("#filters").evaluate("el => el.open") is False
    page.locator("#filters > summary").click()
    assert page.locator('input[name="section"]').first.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    context.close()
    assert problems.errors == []


# -- issue 13: at a desktop size and a phone size ----------------------------------------------

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Any, server: str) -> Iterator[Any]:
    """A fresh page at a phone's size; the test fails if anything was logged as an error."""
    context = browser.new_context(viewport=PHONE, has_touch=False)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = Problems(tab)
    tab.base = server
    yield tab
    context.close()
    assert problems.errors == []


def _centre(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box, "the element is not on screen"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_drag_across_bars_selects_a_span(page: Any, tmp_path: Path) -> None:
    page.goto(page.base + "/?q=report")
    bars = page.locator("svg.histogram a.bar-link")
    assert bars.count() >= 4
    first, third = bars.nth(0), bars.nth(2)
    start, end = first.get_attribute("data-from"), third.get_attribute("data-to")
    x0, y0 = _centre(first.locator(".bar-hit"))
    x1, y1 = _centre(third.locator(".bar-hit"))
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=12)
    with page.expect_navigation():
        page.mouse.up()
    query = params(page.url)
    assert query["from"] == [start] and query["to"] == [end] and query["q"] == ["report"]
    chip = page.locator(".chip", has_text="Date:")
    assert chip.count() == 1
    # The date fields show the span; the histogram now covers it alone.
    assert page.locator("#date-from").input_value().startswith(start or "?")
    page.screenshot(path=str(tmp_path / "range.png"))


def test_shift_click_two_bars_selects_a_span(page: Any) -> None:
    page.goto(page.base + "/")
    bars = page.locator("svg.histogram a.bar-link")
    second, fourth = bars.nth(1), bars.nth(3)
    start, end = second.get_attribute("data-from"), fourth.get_attribute("data-to")
    second.click(modifiers=["Shift"])
    assert page.url.rstrip("/") == page.base, "the first shift-click only marks an end"
    assert "is-brushed" in (second.get_attribute("class") or "")
    with page.expect_navigation():
        fourth.click(modifiers=["Shift"])
    assert params(page.url)["from"] == [start] and params(page.url)["to"] == [end]


def test_typed_date_range(page: Any) -> None:
    page.goto(page.base + "/?q=report")
    page.locator("#date-from").fill("2016-03-01")
    page.locator("#date-to").fill("2016-06-30")
    with page.expect_navigation():
        page.locator(".date-range button").click()
    query = params(page.url)
    assert query["from"] == ["2016-03-01"] and query["to"] == ["2016-06-30"]
    assert "March – June 2016" in page.locator(".chips").inner_text()
    dates = page.locator(".hit-meta time").all_inner_texts()
    assert dates and all(d.endswith("2016") for d in dates)


def test_focus_returns_to_the_ticked_box(page: Any) -> None:
    page.goto(page.base + "/?q=report")
    box = page.locator('input[name="section"][value="Metals"]')
    box.focus()
    with page.expect_navigation():
        page.keyboard.press("Space")
    assert params(page.url)["section"] == ["Metals"]
    assert page.evaluate("document.activeElement.name + '=' + document.activeElement.value") == (
        "section=Metals"
    )


def test_shortcuts_can_be_turned_off(page: Any) -> None:
    page.goto(page.base + "/?q=oil")
    page.locator("body").press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.locator("#q").press("Escape")
    toggle = page.locator("#keys-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false"
    page.locator("body").press("/")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") != "q"
    assert page.evaluate("document.activeElement.closest('.hit-title') === null")
    page.reload()
    assert page.locator("#keys-toggle").get_attribute("aria-pressed") == "false"
    assert not page.locator(".keys-hint").is_visible()


def test_person_suggestion_keeps_the_query(page: Any) -> None:
    page.goto(page.base + "/?q=oil")
    box = page.locator("#q")
    box.fill("")
    box.press_sequentially("paul", delay=20)
    page.locator("#suggestions li", has_text="Paul Volcker").wait_for(state="visible")
    box.press("ArrowDown")
    with page.expect_navigation():
        box.press("Enter")
    assert params(page.url)["q"] == ["oil"] and params(page.url)["person"] == ["Paul Volcker"]
    assert box.input_value() == "oil"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_article_keeps_the_search(browser: Any, server: str, size: dict[str, int]) -> None:
    context = browser.new_context(viewport=size)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = Problems(page)
    page.goto(server + "/?q=gold&per_page=3")
    titles = page.locator(".hit-title a").all_inner_texts()
    with page.expect_navigation():
        page.locator(".hit-title a").nth(1).click()
    assert page.locator("#q").input_value() == "gold"
    marks = page.locator(".story mark").all_inner_texts()
    assert marks and {m.lower() for m in marks} == {"gold"}
    assert page.locator("h1.story-title").inner_text() == titles[1]
    assert page.locator(".result-pos").inner_text().startswith("Result 2 of ")
    with page.expect_navigation():
        page.locator("a.result-next").click()
    assert page.locator("h1.story-title").inner_text() == titles[2]
    with page.expect_navigation():
        page.locator("a.result-next").click()
    # Result 4 is on the second page of three: "back" returns there.
    with page.expect_navigation():
        page.locator("a.back-link").click()
    assert params(page.url) == {"q": ["gold"], "per_page": ["3"], "page": ["2"]}
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    context.close()
    assert problems.errors == []


def test_phone_filter_panel_stays_open_until_show(phone: Any, server: str) -> None:
    phone.goto(server + "/?q=report")
    panel = phone.locator("#filters")
    assert panel.evaluate("el => el.open") is False
    phone.locator("#filters > summary").click()
    url = phone.url
    phone.locator('input[name="section"][value="Energy"]').check()
    phone.locator('input[name="section"][value="Metals"]').check()
    button = phone.locator("[data-show-results]")
    expected = json.loads(
        urllib.request.urlopen(
            server + "/api/search?q=report&section=Energy&section=Metals&per_page=1", timeout=10
        ).read()
    )["total"]
    phone.wait_for_function(
        "n => document.querySelector('[data-show-results]').textContent === "
        "'Show ' + n + ' stories'",
        arg=expected,
    )
    assert phone.url == url and panel.evaluate("el => el.open") is True
    assert button.is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    with phone.expect_navigation():
        button.click()
    assert sorted(params(phone.url)["section"]) == ["Energy", "Metals"]
    assert int(phone.locator(".summary strong").inner_text()) == expected
    # The placeholder fits; the footer does not advertise keys a phone has not got.
    assert not phone.locator(".keys-hint").is_visible()
    placeholder_fits = """el => {
        const style = getComputedStyle(el);
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = style.font;
        const pad = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
        const room = el.clientWidth - pad;
        return ctx.measureText(el.placeholder).width <= room;
    }"""
    assert phone.locator("#q").evaluate(placeholder_fits)


# -- in Chromium: charts render, no console or CSP errors ------------------------------------


def test_research_pages_in_chromium(server: str, browser: Any) -> None:
    """Trends, compare and person pages (issue 14): charts drawn, tables, no CSP errors."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path, charts in (
        ("/trends?q=coffee&by=persons", 2),
        ("/compare?q=coffee&q=oil", 2),
        ("/person/james%20baker", 1),
    ):
        page.goto(server + path)
        assert page.locator("svg.chart").count() == charts, path
        box = page.locator("svg.chart").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, path
        assert page.locator(".legend li").count() >= 1, path
        assert page.locator("table.research-table tbody tr").count() >= 2, path
    page.goto(server + "/trends?q=coffee")
    page.select_option("select[name=interval]", "year")
    page.click("form.research-form button[type=submit]")
    page.wait_for_url("**interval=year**")
    assert page.locator("table.research-table tbody tr").count() == 2  # 2016, 2017
    page.close()
    phone = browser.new_context(viewport={"width": 375, "height": 740})
    small = phone.new_page()
    small.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    for path in ("/trends?q=coffee&by=persons", "/compare?q=coffee&q=oil", "/person/James%20Baker"):
        small.goto(server + path)
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
    phone.close()
    assert errors == []
