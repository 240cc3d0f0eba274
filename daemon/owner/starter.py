"""The files a new business starts from (`vouch init DIR`): the commented config.toml, the email
templates, the referral education page, the surveys and the demo's materials.

There is one copy: the repository's own, the demo `make run` serves. A wheel carries it as
daemon/defaults/ (setup.py copies it there at build time); an editable install reads the
checkout.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from daemon.errors import ConfigError, Problem, VouchError

NAMES = ("config.toml", "templates", "surveys", "materials")  # as setup.py DEFAULTS


def source() -> Traversable:
    packaged = resources.files("daemon") / "defaults"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2]  # daemon/owner/starter.py → the checkout
    if all((checkout / name).exists() for name in NAMES):
        return checkout
    raise VouchError("this installation lacks its default files (daemon/defaults): reinstall it")


def init(target: Path) -> dict[str, int]:
    """Copy the defaults into a new folder; returns the files copied by top-level name.
    Never overwrites: an existing folder must be empty."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(
            [
                Problem(
                    str(target),
                    "",
                    "exists and is not empty; vouch init never overwrites: choose a new folder",
                )
            ]
        )
    target.mkdir(parents=True, exist_ok=True)
    root = source()
    return {name: _copy(root / name, target / name) for name in NAMES}


def next_steps(config: Path) -> str:
    secret = "$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    return (
        "next:\n"
        "  1. edit config.toml: [business] name, email, owner_email, timezone, public_url;\n"
        "     replace materials/ with your own (or remove [[referrals.materials]])\n"
        "  2. set the secrets it names (each at least 16 characters), e.g.\n"
        f"       export VOUCH_API_TOKEN={secret}\n"
        f"       export VOUCH_SECRET_KEY={secret}\n"
        f"  3. vouch check --config {config}\n"
        f"  4. vouch run --config {config}"
    )


def _copy(item: Traversable, target: Path) -> int:
    if item.is_dir():
        target.mkdir(exist_ok=True)
        return sum(
            _copy(child, target / child.name)
            for child in item.iterdir()
            if not child.name.startswith((".", "__"))
        )
    target.write_bytes(item.read_bytes())
    return 1
