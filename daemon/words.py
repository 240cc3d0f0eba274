"""The public pages' words: owner files beside the email templates, one a language
(`templates/pages/words.TAG.toml`), over the copy this installation ships.

`words.en.toml` holds every key the pages use; another language's file may leave keys out, and
they fall back ("en-US" → "en", "fr-CA" → "fr" → "en"). Within a language the owner's file comes
first and the shipped one fills what it lacks, so a key a newer version adds still has words in
an owner's older file. A page speaks the language of the customer its token names (their
locale, else the business's), so a French customer reaching a page from a French email reads it
in French.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from daemon.errors import Problem
from daemon.mail.locales import TAG, canonical, fallbacks, pick
from daemon.settings import read_toml

FOLDER = Path("templates") / "pages"
BASE = "en"
MAX_TEXT = 2000

Table = dict[str, str]


class Words:
    """The words for one reader: `words("thanks.answered", score=9)` → "You answered 9."."""

    def __init__(self, locale: str, tables: Sequence[Mapping[str, str]]) -> None:
        self.locale = locale  # the language of the page, for <html lang>
        self._tables = tables

    def __call__(self, key: str, **values: object) -> str:
        for table in self._tables:
            if key in table:
                return table[key].format(**values)
        raise KeyError(f"no page words for {key!r} in words.{BASE}.toml")


class PageWords:
    """Every language's words, the owner's over the shipped, read with the config."""

    def __init__(self, owner: Mapping[str, Table], shipped: Mapping[str, Table]) -> None:
        self._owner, self._shipped = owner, shipped

    def locales(self) -> list[str]:
        return sorted({*self._owner, *self._shipped})

    def keys(self, locale: str) -> set[str]:
        return {*self._owner.get(locale, {}), *self._shipped.get(locale, {})}

    def for_reader(self, locale: str | None, business: str) -> Words:
        """The reader's language if the pages have it (or a parent: fr for fr-CA), else the
        business's, else English; missing keys come from the parents, then English."""
        tag = pick(locale, business, self.locales()) or BASE
        tables = [
            table
            for t in dict.fromkeys([*fallbacks(tag), BASE])
            for table in (self._owner.get(t), self._shipped.get(t))
            if table is not None
        ]
        return Words(tag, tables)


def load_words(root: Path, shipped: Traversable) -> tuple[PageWords, list[Problem]]:
    """The owner's files under `root` over the shipped ones; each owner file is checked
    against the shipped English words: known keys only, text only, and only the {names}
    that text is given. A file with a problem is left out (its problems say why)."""
    reference = _tables(shipped / "templates" / "pages")
    known = reference.get(BASE, {})
    owner: dict[str, Table] = {}
    problems: list[Problem] = []
    folder = root / FOLDER
    if folder.is_dir():
        for path in sorted(folder.glob("words.*.toml")):
            label = (FOLDER / path.name).as_posix()
            tag = path.name.removeprefix("words.").removesuffix(".toml")
            if not TAG.fullmatch(tag):
                message = 'name it words.TAG.toml with a locale tag, e.g. "words.en-US.toml"'
                problems.append(Problem(label, "", message))
                continue
            raw, unreadable = read_toml(path, label)
            if raw is None:
                problems += unreadable
                continue
            table, wrong = _checked(raw, known, label)
            if wrong:
                problems += wrong
            else:
                owner[canonical(tag)] = table
    return PageWords(owner, reference), problems


def _tables(folder: Traversable) -> dict[str, Table]:
    """The shipped files, trusted (the tests check them as an owner's would be)."""
    found: dict[str, Table] = {}
    for item in folder.iterdir():
        name = item.name
        if name.startswith("words.") and name.endswith(".toml"):
            tag = canonical(name.removeprefix("words.").removesuffix(".toml"))
            found[tag] = _flat(tomllib.loads(item.read_text(encoding="utf-8")))
    return found


def _checked(raw: Mapping[str, Any], known: Table, label: str) -> tuple[Table, list[Problem]]:
    table: Table = {}
    problems: list[Problem] = []
    for key, value in _flat_any(raw).items():
        if key not in known:
            close = get_close_matches(key, known, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            problems.append(Problem(label, key, f"no page uses this key{hint}"))
        elif not isinstance(value, str) or not value.strip():
            problems.append(Problem(label, key, "must be some text in quotes"))
        elif len(value) > MAX_TEXT:
            problems.append(Problem(label, key, f"at most {MAX_TEXT} characters"))
        elif (wrong := _names_problem(value, _names(known[key]) or set())) is not None:
            problems.append(Problem(label, key, wrong))
        else:
            table[key] = value
    return table, problems


def _names_problem(text: str, allowed: set[str]) -> str | None:
    """Why `text` cannot be filled in with the page's `allowed` {names} (None: it can)."""
    names = _names(text)
    if names is None:
        return "a { or } that is not part of a {name}: write {{ or }} for the character itself"
    unknown = sorted(names - allowed)
    if not unknown:
        return None
    offered = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
    return f"{{{unknown[0]}}} is not filled in on this page (it fills: {offered})"


def _names(text: str) -> set[str] | None:
    """The {names} a text uses; None when its braces do not parse."""
    try:
        return {
            field.split(".")[0].split("[")[0]
            for _, field, _, _ in string.Formatter().parse(text)
            if field is not None
        }
    except ValueError:
        return None


def _flat(table: Mapping[str, Any], prefix: str = "") -> Table:
    return {key: str(value) for key, value in _flat_any(table, prefix).items()}


def _flat_any(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"survey": {"send": "Send"}} → {"survey.send": "Send"}."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat |= _flat_any(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat
