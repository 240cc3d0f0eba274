"""The HTTP side: admin API, operational endpoints (later: public pages and the dashboard)."""

from daemon.web.app import create_app

__all__ = ["create_app"]
