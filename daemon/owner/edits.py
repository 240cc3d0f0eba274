"""The owner's files edited from the dashboard: an email kind's text, a survey's wording, the
education page. An edit is checked exactly as `vouch check` checks the files, but on a copy of
the owner's folder in which only the edited file differs (every other entry a link to the
owner's own), so a mistake is found, named by file and line, and never written; a good edit is
written over the owner's file atomically (the old or the new, never half), where git sees it.

Survey files are edited with tomlkit, so the owner's comments and layout stay as they were.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from daemon.errors import ConfigError, Problem

SEGMENTS = ("promoter", "passive", "detractor")
EDUCATION = Path("templates") / "pages" / "referral_education.toml"


@contextlib.contextmanager
def trial(config_path: Path, edits: Mapping[Path, str]) -> Iterator[Path]:
    """A config path to check `edits` (paths relative to the config's folder, to their new
    text) with: a temporary folder holding a copy of the config file, the edited files, and
    links to everything else of the owner's; gone afterwards."""
    root = config_path.parent
    with tempfile.TemporaryDirectory(prefix="vouch-edit-") as temporary:
        trial_root = Path(temporary)
        _mirror(root, trial_root, {config_path.name}, edits)
        (trial_root / config_path.name).write_bytes(config_path.read_bytes())
        yield trial_root / config_path.name


def _mirror(source: Path, target: Path, copied: set[str], edits: Mapping[Path, str]) -> None:
    """`target` as `source` by links, but the folders on the way to an edit (made real, their
    own entries linked) and the edited files (written)."""
    here = {edit.parts[0]: edit for edit in edits}
    for entry in source.iterdir():
        if entry.name in copied or entry.name in here:
            continue
        (target / entry.name).symlink_to(entry)
    for first, edit in here.items():
        if len(edit.parts) == 1:
            (target / first).write_text(edits[edit], encoding="utf-8")
            continue
        folder = target / first
        folder.mkdir()
        inner = {Path(*e.parts[1:]): text for e, text in edits.items() if e.parts[0] == first}
        if (source / first).is_dir():
            _mirror(source / first, folder, set(), inner)
        else:
            for path, text in inner.items():
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                (folder / path).write_text(text, encoding="utf-8")


def write_atomically(path: Path, text: str) -> None:
    """`text` over `path`: a file beside it, flushed to disk, then renamed over it (keeping the
    old file's permissions): a crash leaves the old file or the new, never a part."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


# surveys ----------------------------------------------------------------------------------------


def survey_text(source: str, label: str, words: Mapping[str, Mapping[str, str]]) -> str:
    """The survey file `source` with its question and follow-ups replaced by `words` (by
    locale, "" for the file's own language: {"question": …, "promoter": …}); a blank one is
    removed from a translation (it falls back to the main text), and every comment kept."""
    try:
        document = tomlkit.parse(source)
    except TOMLKitError as exc:
        raise ConfigError([Problem(label, "", f"not valid TOML: {exc}")]) from None
    for locale, texts in words.items():
        table: Table | tomlkit.TOMLDocument = document
        if locale:
            locales = _table(document, "locales")
            table = _table(locales, locale)
        for key, text in texts.items():
            if key == "question":
                _set(table, key, text)
            else:
                _set(_table(table, "follow_up"), key, text)
    return tomlkit.dumps(document)


def _table(parent: Table | tomlkit.TOMLDocument, key: str) -> Table:
    found = parent.get(key)
    if not isinstance(found, Table):
        found = tomlkit.table()
        parent[key] = found
    return found


def _set(table: Table | tomlkit.TOMLDocument, key: str, text: str) -> None:
    text = text.strip()
    if text:
        table[key] = text
    elif key in table:
        del table[key]


# the education page -----------------------------------------------------------------------------


def education_text(source: str, label: str, parts: Mapping[str, str | list[str] | bool]) -> str:
    """The education page's file with its parts replaced, comments kept."""
    try:
        document = tomlkit.parse(source)
    except TOMLKitError as exc:
        raise ConfigError([Problem(label, "", f"not valid TOML: {exc}")]) from None
    for key, value in parts.items():
        if key == "example":
            if value:
                document[key] = True
            elif key in document:
                del document[key]
        elif isinstance(value, list):
            document[key] = [line for line in value if line]
        else:
            document[key] = str(value).strip()
    return tomlkit.dumps(document)
