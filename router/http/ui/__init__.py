"""The web dashboard (``/ui``): the page, its assets and its data endpoints."""

from router.http.ui.dashboard import UI_STATE_KEY, Dashboard, ui_router

__all__ = ["UI_STATE_KEY", "Dashboard", "ui_router"]
