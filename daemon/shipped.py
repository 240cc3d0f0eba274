"""Where this installation's own copy of the owner's files is (config.toml, templates/,
surveys/, materials/): what `vouch init` copies, and what the page words fall back to when an
owner's file lacks a key a newer version added.

A wheel carries them as daemon/defaults/ (setup.py copies them there at build time); an
editable install reads the checkout, which is also the demo `make run` serves.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from daemon.errors import VouchError

NAMES = ("config.toml", "templates", "surveys", "materials")  # as setup.py DEFAULTS


def shipped() -> Traversable:
    packaged = resources.files("daemon") / "defaults"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[1]  # daemon/shipped.py → the checkout
    if all((checkout / name).exists() for name in NAMES):
        return checkout
    raise VouchError("this installation lacks its default files (daemon/defaults): reinstall it")
