"""searchapp: full-text, faceted search over a news agency's archive."""

__version__ = "0.1.0"
