"""Languages: which translation a reader gets, tried from the most specific to the default.

A customer's locale tag is kept as they gave it ("fr_ca", "FR-CA"); here it is spelled one way
(BCP 47's casing: language lower-case, script title-case, region upper-case, so "fr-CA") and
shortened one subtag at a time: "fr-CA" → "fr-CA", "fr". After the reader's own tags come the
business's (`business.locale`), and after those the default: the unsuffixed file or text.
Pure functions: no files here, the callers say what exists.
"""

from __future__ import annotations

import re
from collections.abc import Container

TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")  # as events.py accepts them


def canonical(tag: str) -> str:
    """ "fr_ca" → "fr-CA", "ZH-hant-tw" → "zh-Hant-TW"; a ValueError for what is not a tag."""
    if not TAG.fullmatch(tag):
        raise ValueError(f'"{tag}" is not a locale tag such as "fr" or "fr-CA"')
    language, *rest = re.split("[-_]", tag)
    parts = [language.lower()]
    for part in rest:
        if len(part) == 4 and part.isalpha():
            parts.append(part.title())  # a script: Hant, Latn
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            parts.append(part.upper())  # a region: CA, 419
        else:
            parts.append(part.lower())
    return "-".join(parts)


def fallbacks(tag: str | None) -> list[str]:
    """The tags to try for one reader, most specific first: "fr-CA" → ["fr-CA", "fr"].
    None or something that is not a tag → [] (the reader gets the default)."""
    if not tag or not TAG.fullmatch(tag):
        return []
    parts = canonical(tag).split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def chain(wanted: str | None, business: str) -> list[str]:
    """The reader's tags, then the business's, each once: ("fr-CA", "en") → fr-CA, fr, en."""
    return list(dict.fromkeys([*fallbacks(wanted), *fallbacks(business)]))


def pick(wanted: str | None, business: str, available: Container[str]) -> str | None:
    """The first tag of `chain` that is available; None: the default."""
    return next((tag for tag in chain(wanted, business) if tag in available), None)


def suffixed(name: str, tag: str) -> str:
    """A file's translation: ("survey.html", "fr") → "survey.fr.html"."""
    stem, dot, extension = name.rpartition(".")
    return f"{stem}.{tag}.{extension}" if dot else f"{name}.{tag}"


def split(name: str) -> tuple[str, str | None]:
    """The other way: "survey.fr-CA.html" → ("survey.html", "fr-CA"); "survey.html" →
    ("survey.html", None). The tag is returned as written (it may not be canonical)."""
    parts = name.split(".")
    if len(parts) == 3 and TAG.fullmatch(parts[1]):
        return f"{parts[0]}.{parts[2]}", parts[1]
    return name, None
