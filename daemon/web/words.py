"""The public pages' words, one file a language: `daemon/web/words/TAG.toml`.

`en.toml` holds every word the pages use; another language's file may leave keys out, and they
fall back ("fr-CA" → "fr" → "en"). A page speaks the language of the customer its token names
(their locale, else the business's), so the survey and thank-you pages a French customer
reaches from a French email are in French.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.mail.locales import canonical, fallbacks, pick

DIRECTORY = Path(__file__).parent / "words"
BASE = "en"


class Words:
    """The words for one reader: `words("thanks.answered", score=9)` → "You answered 9."."""

    def __init__(self, locale: str, tables: list[Mapping[str, str]]) -> None:
        self.locale = locale  # the language of the page, for <html lang>
        self._tables = tables

    def __call__(self, key: str, **values: object) -> str:
        for table in self._tables:
            if key in table:
                return table[key].format(**values)
        raise KeyError(f"no page words for {key!r} in {BASE}.toml")


class PageWords:
    """Every language's words, read once when the app is built."""

    def __init__(self, directory: Path = DIRECTORY) -> None:
        self._tables: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("*.toml")):
            with path.open("rb") as file:
                self._tables[canonical(path.stem)] = _flat(tomllib.load(file))

    def locales(self) -> list[str]:
        return sorted(self._tables)

    def keys(self, locale: str) -> set[str]:
        return set(self._tables[locale])

    def for_reader(self, locale: str | None, business: str) -> Words:
        """The reader's language if the pages have it (or a parent: fr for fr-CA), else the
        business's, else English; missing keys come from the parents, then English."""
        tag = pick(locale, business, self._tables) or BASE
        tags = dict.fromkeys([*fallbacks(tag), BASE])
        return Words(tag, [self._tables[t] for t in tags if t in self._tables])


def _flat(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{"survey": {"send": "Send"}} → {"survey.send": "Send"}."""
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat
