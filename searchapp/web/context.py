"""The app's one SearchService and its Settings, for views, the API and the error handlers.

Kept apart from ``searchapp.web`` (which builds the app and imports every view) so that a view
module never imports the package that imports it.
"""

from __future__ import annotations

from flask import current_app

from searchapp.config import Settings
from searchapp.search import SearchService

SERVICE_KEY = "searchapp"
SETTINGS_KEY = "SEARCHAPP_SETTINGS"


def service() -> SearchService:
    """Return the app's SearchService."""
    svc: SearchService = current_app.extensions[SERVICE_KEY]
    return svc


def settings() -> Settings:
    """Return the app's Settings."""
    s: Settings = current_app.config[SETTINGS_KEY]
    return s
