"""`vouch import`: an owner's CSV file into the store, streamed and written a batch at a time.

Memory follows the batch, not the file (plus a few bytes a line to spot a line given twice).
Events enter exactly as the API's do (daemon/intake/accept.py), so the scheduler plans them like any
other: a past purchase or project gets no survey (its survey's life is over, the scheduler's own
rule) unless the owner asks to survey history now, and a past project is no referral moment.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from daemon.clock import Clock
from daemon.config import Config
from daemon.engine.invitations import too_old
from daemon.errors import ConfigError, Problem, VouchError
from daemon.intake.accept import accept_event
from daemon.intake.events import EventIn
from daemon.owner.import_rows import (
    COLUMNS,
    HISTORY_KEY,
    ID_COLUMNS,
    Bad,
    Good,
    Header,
    read_header,
    read_line,
)
from daemon.run.services import Services, opened
from daemon.store import Recorded

KINDS = tuple(COLUMNS)
_T = TypeVar("_T")
BATCH = 500  # lines a transaction (the event writer's own group size)


def kind_of(path: Path) -> str | None:
    """The kind a file's name says (customers.csv, 2025-purchases.csv, project-list.csv)."""
    words = re.split(r"[^a-z]+", path.stem.lower())
    found = {kind for kind in KINDS for word in words if word in (kind, kind[:-1])}
    return found.pop() if len(found) == 1 else None


class CsvFile:
    """A CSV file read lazily: its header mapped first, then its lines with their numbers.

    UTF-8 (a spreadsheet's byte-order mark is fine); the separator is the one of `,` `;` or
    tab that the header line uses most, as spreadsheets in some countries write `;`.
    """

    def __init__(self, path: Path, kind: str) -> None:
        if not path.is_file():
            raise ConfigError([Problem(str(path), "", "file not found")])
        self.path = path
        self.size = path.stat().st_size
        self._raw = path.open("rb")
        try:
            self._text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", newline="")
            first = self._guard(self._text.readline, 0)
            separator = max(",;\t", key=first.count)
            self._reader = csv.reader(itertools.chain([first], self._text), delimiter=separator)
            self.header: Header = read_header(
                kind, self._guard(lambda: next(self._reader, []), 0), path.name
            )
        except BaseException:
            self._raw.close()
            raise

    def __enter__(self) -> CsvFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._raw.close()

    def position(self) -> int:
        """Bytes read so far (for the progress bar)."""
        return self._raw.tell()

    def lines(self) -> Iterator[tuple[int, list[str]]]:
        """(line number where the record starts, values), skipping blank lines."""
        end = self._reader.line_num
        while (values := self._guard(lambda: next(self._reader, None), end)) is not None:
            start, end = end + 1, self._reader.line_num
            if any(v.strip() for v in values):
                yield start, values

    def _guard(self, read: Callable[[], _T], line: int) -> _T:
        try:
            return read()
        except UnicodeDecodeError:
            raise VouchError(
                f"{self.path.name}: not UTF-8 text after line {line} (save it as 'CSV UTF-8'); "
                "the lines before it were imported"
            ) from None
        except csv.Error as exc:
            raise VouchError(
                f"{self.path.name}: line {line + 1}: cannot read it as CSV ({exc}); "
                "the lines before it were imported"
            ) from None


@dataclass(frozen=True)
class LineError:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column!r}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass
class Tally:
    lines: int = 0  # lines with something on them, good or bad
    good: int = 0
    new: int = 0
    updated: int = 0  # customers whose stored details changed
    unchanged: int = 0  # already in the store as the file has them
    bad: int = 0
    past: int = 0  # events older than their survey's life
    ignored: list[str] = field(default_factory=list)  # headers that name no column


@dataclass(frozen=True)
class Options:
    kind: str
    dry_run: bool = False  # check every line, write nothing
    survey_history: bool = False  # past events get a survey now (throttle still applies)
    date_format: str | None = None  # --date-format; None: [import] date_format of the config


async def import_file(
    source: CsvFile,
    options: Options,
    config: Config,
    now: datetime,
    services: Services | None,
    on_error: Callable[[LineError], None],
    on_progress: Callable[[int], None] = lambda done: None,
) -> Tally:
    """Every good line into the store (nothing with dry_run; then services may be None)."""
    header = source.header
    tally = Tally(ignored=header.ignored)
    zone = ZoneInfo(config.settings.business.timezone)
    date_format = options.date_format or config.settings.import_.date_format
    seen: dict[int, int] = {}  # a line's key, hashed → its line number
    batch: list[tuple[int, Good]] = []
    for line, values in source.lines():
        tally.lines += 1
        read = read_line(header, values, zone, now, date_format)
        if isinstance(read, Good) and (again := _again(read, line, seen, header)):
            read = again
        if not isinstance(read, Good):
            tally.bad += 1
            for bad in read:
                on_error(LineError(line, bad.column, bad.message))
            continue
        tally.good += 1
        if read.event is not None and _past(config, read.event, now):
            tally.past += 1
            if options.survey_history:
                read = Good(read.key, read.customer, _flagged(read.event, True))
        batch.append((line, read))
        if len(batch) >= BATCH:
            await _write(batch, options, services, now, tally, on_error)
            batch = []
            on_progress(source.position())
    await _write(batch, options, services, now, tally, on_error)
    on_progress(source.size)
    return tally


def _again(read: Good, line: int, seen: dict[int, int], header: Header) -> list[Bad] | None:
    """A line the file already gave (the same address, order or values) is a mistake."""
    key = int.from_bytes(hashlib.blake2b(read.key.encode(), digest_size=8).digest())
    first = seen.setdefault(key, line)
    if first == line:
        return None
    if header.kind == "customers":
        return [Bad(header.label("email"), f"the same address as line {first}")]
    id_column = ID_COLUMNS[header.kind]
    if id_column in header.index:
        return [Bad(header.label(id_column), f"the same {id_column} as line {first}")]
    return [Bad(None, f"the same {header.kind[:-1]} as line {first} (address, date and values)")]


def _past(config: Config, event: EventIn, now: datetime) -> bool:
    """Older than the life of every survey it triggers: the scheduler will not survey it."""
    surveys = [s for s in config.surveys.values() if s.trigger == event.type]
    return bool(surveys) and all(too_old(s, event.occurred_at, now) for s in surveys)


def _flagged(event: EventIn, on: bool) -> EventIn:
    data = {k: v for k, v in event.data.items() if k != HISTORY_KEY}
    return event.model_copy(update={"data": {**data, HISTORY_KEY: True} if on else data})


async def _write(
    batch: list[tuple[int, Good]],
    options: Options,
    services: Services | None,
    now: datetime,
    tally: Tally,
    on_error: Callable[[LineError], None],
) -> None:
    if not batch or options.dry_run:
        return
    assert services is not None
    if options.kind == "customers":
        new, updated = await services.store.import_customers([g.customer for _, g in batch], now)
        for _, good in batch:
            if good.influence is not None:
                customer = await services.store.customer_by_email(good.key)
                assert customer is not None  # imported just above
                await services.store.set_influence_mark(
                    customer.id, good.influence, source="import", now=now
                )
        tally.new += new
        tally.updated += updated
        tally.unchanged += len(batch) - new - updated
        return
    events = [(line, g.event) for line, g in batch if g.event is not None]
    # All at once: the store's group commit writes the whole batch in one transaction.
    outcomes = await asyncio.gather(*(accept_event(services, event) for _, event in events))
    for (line, event), outcome in zip(events, outcomes, strict=True):
        recorded = outcome.recorded
        if recorded is Recorded.CONFLICT and _past(services.config, event, now):
            # Imported before with --survey-history the other way: the same line all the same.
            other = _flagged(event, HISTORY_KEY not in event.data)
            recorded = (await accept_event(services, other)).recorded
        if recorded is Recorded.NEW:
            tally.new += 1
        elif recorded is Recorded.REPLAY:
            tally.unchanged += 1
        else:
            tally.good -= 1
            tally.bad += 1
            on_error(
                LineError(
                    line,
                    None,
                    f"imported before with different values (event id {event.id!r}); "
                    "correct the line, or give it a new id",
                )
            )


def summary(tally: Tally, options: Options, name: str) -> str:
    """What happened, in the owner's words."""
    if options.dry_run:
        done = f"{tally.good} good (dry run: nothing written)"
    elif options.kind == "customers":
        done = f"{tally.new} new, {tally.updated} updated, {tally.unchanged} unchanged"
    else:
        done = f"{tally.new} new, {tally.unchanged} already recorded"
    lines = [f"{name}: {tally.lines} lines: {done}, {tally.bad} bad"]
    if tally.ignored:
        lines.append(f"  ignored columns: {', '.join(repr(h) for h in tally.ignored)}")
    if tally.past:
        lines.append(
            f"  {tally.past} older than their survey's life: "
            + (
                "surveyed now (at most one survey a customer within throttle_days)"
                if options.survey_history
                else "recorded without a survey (--survey-history surveys them now)"
            )
        )
    return "\n".join(lines)


def run(
    config: Config,
    what: list[str],
    clock: Clock,
    *,
    dry_run: bool = False,
    survey_history: bool = False,
    date_format: str | None = None,
    progress: bool | None = None,
) -> int:
    """The command: `what` is [KIND] FILE. Exit 0, or 2 when any line was bad (the good ones
    are imported all the same). A wrong header stops before the store is opened."""
    kind, path = _target(what)
    options = Options(kind, dry_run, survey_history, date_format)
    console = Console(stderr=True, force_terminal=True if progress else None, highlight=False)

    def report(error: LineError) -> None:
        console.print(f"{path.name}: {error}", markup=False, soft_wrap=True)

    with CsvFile(path, kind) as source:
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not (console.is_terminal if progress is None else progress),
        )
        with bar:
            task = bar.add_task(f"importing {kind} from {path.name}", total=source.size)
            tally = asyncio.run(
                _import(
                    source, options, config, clock, report, lambda n: bar.update(task, completed=n)
                )
            )
    print(summary(tally, options, path.name))
    return 2 if tally.bad else 0


async def _import(
    source: CsvFile,
    options: Options,
    config: Config,
    clock: Clock,
    report: Callable[[LineError], None],
    advance: Callable[[int], None],
) -> Tally:
    if options.dry_run:  # the store is not even opened
        return await import_file(source, options, config, clock.now(), None, report, advance)
    async with opened(config, clock) as services:
        return await import_file(source, options, config, clock.now(), services, report, advance)


def _target(what: list[str]) -> tuple[str, Path]:
    if len(what) == 2 and what[0] in KINDS:
        return what[0], Path(what[1])
    if len(what) == 1:
        path = Path(what[0])
        kind = kind_of(path)
        if kind is None:
            raise ConfigError(
                [
                    Problem(
                        path.name,
                        "",
                        "cannot tell from the name whether it holds customers, purchases or "
                        f"projects: say which, e.g. vouch import purchases {path}",
                    )
                ]
            )
        return kind, path
    raise ConfigError(
        [Problem("vouch import", "", f"expected [KIND] FILE, KIND one of {', '.join(KINDS)}")]
    )
