"""Helpers shared by the tests: the demo business written into a temp dir, tokens, paths."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import tomli_w

REPO = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"
ENV = {"VOUCH_API_TOKEN": TOKEN, "VOUCH_SECRET_KEY": "test-secret-key-0123456789"}

BASE_CONFIG: dict[str, Any] = {
    "business": {
        "name": "Harbor Lane Renovations",
        "email": "hello@harborlane.example",
        "reply_to": "team@harborlane.example",
        "owner_email": "owner@harborlane.example",
        "timezone": "Europe/London",
        "public_url": "http://vouch.test",
    },
    "server": {"host": "127.0.0.1", "port": 0},
    "store": {"path": "var/vouch.sqlite3"},
    "secrets": {"api_token_env": "VOUCH_API_TOKEN", "signing_key_env": "VOUCH_SECRET_KEY"},
    "email": {"transport": "maildir", "maildir": {"path": "var/maildir"}},
    "sender": {"max_attempts": 5, "backoff_base_seconds": 60, "backoff_max_seconds": 3600},
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_business(root: Path, changes: dict[str, Any] | None = None) -> Path:
    """A business folder as an owner would have it: config.toml and the repo's templates."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "templates").exists():
        shutil.copytree(REPO / "templates", root / "templates")
    for folder in ("surveys", "materials"):
        if (REPO / folder).exists() and not (root / folder).exists():
            shutil.copytree(REPO / folder, root / folder)
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(merge(BASE_CONFIG, changes or {})))
    return path
