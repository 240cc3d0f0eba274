"""The files a new business starts from (`vouch init DIR`): the commented config.toml, the email
templates, the referral education page, the surveys and the demo's materials, with [business]
set to the owner's own (given as options or asked for) and `demo = false`, so `vouch check`
names each of the demo's examples still to replace.

There is one copy: the repository's own, the demo `make run` serves (daemon/shipped.py finds
it, in a wheel or a checkout).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, cast

import tomlkit
from pydantic import TypeAdapter, ValidationError
from tomlkit.items import Item, Table

from daemon.config import Business
from daemon.errors import ConfigError, Problem
from daemon.shipped import NAMES, shipped

#: What init asks for: the [business] key, its option, and what it is, for the owner.
QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("name", "--name", "your business's name, as customers know it"),
    ("email", "--email", "the address your emails come from, e.g. hello@acme.com"),
    ("owner_email", "--owner-email", "your own address: alerts and the digest go to it"),
    ("timezone", "--timezone", "your time zone (IANA), e.g. America/Chicago or Europe/London"),
    (
        "public_url",
        "--public-url",
        "the address customers reach Vouch at, e.g. https://vouch.acme.com",
    ),
    ("currency", "--currency", "the currency you price in (ISO 4217), e.g. USD, EUR or GBP"),
    ("locale", "--locale", "your language (a locale tag), e.g. en, en-US or fr"),
)
DEMO_ONLY = ("reply_to", "about")  # the demo's own, optional: the owner adds theirs


def problem(key: str, value: str) -> str | None:
    """Why `value` is not valid for business.`key`, by the config's own rules (None: valid)."""
    info = Business.model_fields[key]
    try:
        TypeAdapter(cast(Any, Annotated[info.annotation, info])).validate_python(value)
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        return f"{reason}: must be {info.description}"
    return None


def ask(key: str, explain: str) -> str:
    """Ask on the terminal until the answer is valid (EOFError when input ends)."""
    print(f"{explain[0].upper()}{explain[1:]}.")
    while True:
        answer = input(f"{key.replace('_', ' ')}: ").strip()
        wrong = problem(key, answer)
        if wrong is None:
            return answer
        print(f"  not valid ({wrong}); try again")


def refuse_occupied(target: Path) -> None:
    """Never overwrite: an existing folder must be empty (checked before asking anything)."""
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


def init(target: Path, business: Mapping[str, str]) -> dict[str, int]:
    """Copy the defaults into a new folder and make its config the owner's business; returns
    the files copied by top-level name. Never overwrites: an existing folder must be empty."""
    refuse_occupied(target)
    root = shipped()
    text = own_config((root / "config.toml").read_text(encoding="utf-8"), business)
    Business.model_validate(tomllib.loads(text)["business"])  # as `vouch check` reads it
    target.mkdir(parents=True, exist_ok=True)
    copied = {name: _copy(root / name, target / name) for name in NAMES}
    (target / "config.toml").write_text(text, encoding="utf-8")
    return copied


def own_config(shipped: str, business: Mapping[str, str]) -> str:
    """The shipped config.toml, comments kept, with [business] the owner's and demo = false
    (the demo's optional reply_to and about are taken out)."""
    document = tomlkit.parse(shipped)
    table = document["business"]
    assert isinstance(table, Table)
    for key in DEMO_ONLY:
        table.pop(key, None)
    for key, value in {**business, "demo": False}.items():
        old = _item(table, key) if key in table else None
        column = len(f"{key} = {old.as_string()}{old.trivia.comment_ws}") if old else 0
        table[key] = value
        new = _item(table, key)
        if new.trivia.comment:  # keep the comment in its column
            new.trivia.comment_ws = " " * max(1, column - len(f"{key} = {new.as_string()}"))
    return tomlkit.dumps(document)


def _item(table: Table, key: str) -> Item:
    item = table.item(key)
    assert isinstance(item, Item)  # a key = value line, not a table
    return item


def next_steps(config: Path, business: Mapping[str, Any]) -> str:
    secret = "$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    dashboard = f"{business['public_url'].rstrip('/')}/admin"
    return (
        "next:\n"
        f"  1. vouch check --config {config}\n"
        "     lists each example from the demo business still in the folder (its brochure,\n"
        "     links, incentive, rewards, review sites and how-to-refer page): replace it with\n"
        "     your own, delete it, or remove its `example = true` to keep it; until then no\n"
        "     ask is sent\n"
        "  2. set the secrets config.toml names (each at least 16 characters), e.g.\n"
        f"       export VOUCH_API_TOKEN={secret}\n"
        f"       export VOUCH_SECRET_KEY={secret}\n"
        f"       export VOUCH_DASHBOARD_PASSWORD={secret}\n"
        f"     the last is your password for the dashboard at {dashboard}\n"
        f"  3. vouch run --config {config}"
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
