"""The lines of an owner's CSV file, checked: which column is which, and what each line says.

Columns are found by their header, whatever its case, spacing or punctuation ("E-mail",
"e_mail" and "email" are one name), under the names listed in COLUMNS. A line becomes what the
API would have received: a customer (`customers`) or a `purchase.completed` /
`project.completed` event whose id comes from the line itself, so importing the same file
again records nothing new. Pure: no files, no store, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from daemon.engine.influence import parse_mark
from daemon.engine.inputs import text_problem, when_problem
from daemon.errors import ConfigError, Problem
from daemon.intake.events import CustomerIn, EventIn


@dataclass(frozen=True)
class Column:
    name: str
    names: tuple[str, ...]  # accepted headers, as `header_key` writes them
    required: bool = False


_CUSTOMER = (
    Column("email", ("email", "e mail", "email address", "e mail address", "mail"), True),
    Column("name", ("name", "full name", "customer name", "customer")),
    Column("external_id", ("external id", "customer id", "client id")),
    Column("timezone", ("timezone", "time zone", "tz")),
    Column("locale", ("locale", "language", "lang")),
    Column("tags", ("tags", "tag", "labels")),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "customers": (
        *_CUSTOMER[:2],
        Column("external_id", ("external id", "customer id", "client id", "id")),
        *_CUSTOMER[3:],
        Column("influence", ("influence", "influence mark")),  # the owner's mark, 0-10
    ),
    "purchases": (
        *_CUSTOMER,
        Column(
            "date", ("date", "occurred at", "purchase date", "purchased at", "order date"), True
        ),
        Column(
            "order_id", ("order id", "order", "order number", "invoice", "invoice number", "id")
        ),
        Column("amount", ("amount", "total", "value", "price")),
        Column("currency", ("currency",)),
        Column("product", ("product", "item", "description")),
    ),
    "projects": (
        *_CUSTOMER,
        Column(
            "date", ("date", "occurred at", "completed at", "completion date", "completed"), True
        ),
        Column("project_id", ("project id", "project", "job", "job id", "job number", "id")),
        Column("title", ("title", "project name", "job title", "description")),
        Column("amount", ("amount", "total", "value", "price")),
    ),
}

EVENT_TYPES = {"purchases": "purchase.completed", "projects": "project.completed"}
ID_COLUMNS = {"purchases": "order_id", "projects": "project_id"}
DATA_COLUMNS = {
    "purchases": ("order_id", "amount", "currency", "product"),
    "projects": ("project_id", "title", "amount"),
}
HISTORY_KEY = "survey_history"  # data flag: survey this past event now (--survey-history)


def header_key(text: str) -> str:
    return " ".join(re.split(r"[\s_\-.]+", text.strip().lower())).strip()


@dataclass(frozen=True)
class Header:
    """Where each known column is in a file's lines, and the header as the file spells it."""

    kind: str
    found: list[str]
    index: dict[str, int]  # column name → position
    ignored: list[str]  # headers that name no column

    def label(self, column: str) -> str:
        return self.found[self.index[column]]


def read_header(kind: str, found: list[str], file: str) -> Header:
    """Map a header line to columns; raises ConfigError naming every missing or doubled one."""
    columns = COLUMNS[kind]
    index: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[Problem] = []
    for position, text in enumerate(found):
        key = header_key(text)
        column = next((c for c in columns if key in c.names or key == header_key(c.name)), None)
        if column is None:
            if text.strip():
                ignored.append(text)
        elif column.name in index:
            problems.append(
                Problem(
                    file,
                    "line 1",
                    f"columns {found[index[column.name]]!r} and {text!r} both mean "
                    f"{column.name}: keep one",
                )
            )
        else:
            index[column.name] = position
    for column in columns:
        if column.required and column.name not in index:
            problems.append(
                Problem(
                    file,
                    "line 1",
                    f"missing column {column.name!r} (a {kind} file needs "
                    f"{', '.join(c.name for c in columns if c.required)}; "
                    f"accepted headers for it: {', '.join(_spelled(column))}); "
                    f"headers found: {', '.join(repr(h) for h in found) or 'none'}",
                )
            )
    if problems:
        raise ConfigError(problems)
    return Header(kind, found, index, ignored)


def _spelled(column: Column) -> list[str]:
    return [column.name, *(n for n in column.names if n != header_key(column.name))]


@dataclass(frozen=True)
class Bad:
    """One thing wrong on a line; column is the header as the file spells it."""

    column: str | None
    message: str


@dataclass(frozen=True)
class Good:
    key: str  # what makes two lines the same: the address, or the event id
    customer: CustomerIn
    event: EventIn | None  # None for a customers file
    influence: int | None = None  # the owner's mark from a customers file (None: no mark)


def read_line(
    header: Header, values: list[str], zone: ZoneInfo, now: datetime, date_format: str = "iso"
) -> Good | list[Bad]:
    """What one line says, or everything wrong with it. Dates without an offset are read in
    `zone` (the business's); a bare date is the start of that day. `date_format` is how the
    owner writes dates (DATE_FORMATS); ISO dates are read whatever it is."""
    if len(values) != len(header.found):
        return [Bad(None, f"{len(values)} fields, but the header has {len(header.found)}")]
    cell = {name: values[i].strip() for name, i in header.index.items()}
    bad: list[Bad] = []
    for column in COLUMNS[header.kind]:
        if column.required and column.name in cell and not cell[column.name]:
            bad.append(Bad(header.label(column.name), "empty: a value is required"))
    customer = _customer(header, cell, bad)
    if header.kind == "customers":
        mark = None
        if cell.get("influence"):
            try:
                mark = parse_mark(cell["influence"])
            except ValueError as exc:
                bad.append(Bad(header.label("influence"), str(exc)))
        if bad or customer is None:
            return bad
        return Good(customer.email.lower(), customer, None, mark)
    data: dict[str, Any] = {}
    for name in DATA_COLUMNS[header.kind]:
        text = cell.get(name, "")
        if text:
            data[name] = _datum(name, text, header, bad)
    when = None
    if cell.get("date"):
        when = _when(cell["date"], zone, now, header.label("date"), bad, date_format)
    if bad or customer is None or when is None:
        return bad
    event_type = EVENT_TYPES[header.kind]
    own_id = data.get(ID_COLUMNS[header.kind])
    if not own_id:  # the line is its own id: the address, the date and what it says
        facts = {"email": customer.email.lower(), "occurred_at": when.isoformat(), "data": data}
        own_id = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]
    event_id = f"import:{header.kind}:{own_id}"
    event = EventIn(id=event_id, type=event_type, occurred_at=when, customer=customer, data=data)
    return Good(event_id, customer, event)


def _customer(header: Header, cell: dict[str, str], bad: list[Bad]) -> CustomerIn | None:
    fields: dict[str, Any] = {
        name: cell[name]
        for name in ("email", "name", "external_id", "timezone", "locale")
        if cell.get(name)
    }
    if cell.get("tags"):
        fields["tags"] = read_tags(cell["tags"])
    if "email" not in fields:
        return None  # reported as empty already
    try:
        return CustomerIn.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            column = str(error["loc"][0])
            message = error["msg"].removeprefix("Value error, ")
            value = fields.get(column)
            shown = f"{value!r}: " if isinstance(value, str) else ""
            bad.append(Bad(header.label(column), f"{shown}{message}"))
        return None


def read_tags(text: str) -> list[str]:
    """A tags cell: tags separated by `;`, `,` or `|`, or the JSON list `tags_cell` writes when
    a tag holds one of those."""
    if text.startswith("["):
        try:
            listed = json.loads(text)
        except ValueError:
            listed = None
        if isinstance(listed, list) and all(isinstance(t, str) for t in listed):
            return listed
    return [t for t in re.split(r"[;,|]", text) if t.strip()]


def tags_cell(tags: list[str]) -> str:
    """Tags as `read_tags` reads them back exactly (`vouch export customers`): `a; b` when that
    is unambiguous, else a JSON list."""
    plain = "; ".join(tags)
    if [t.strip() for t in read_tags(plain)] == tags:
        return plain
    return json.dumps(tags, ensure_ascii=False)


def _datum(name: str, text: str, header: Header, bad: list[Bad]) -> Any:
    label = header.label(name)
    if name == "amount":
        try:
            amount = Decimal(text)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            bad.append(Bad(label, f"not a number: {text!r} (write it like 1250.50)"))
            return None
        return float(amount)
    if name == "currency":
        if not re.fullmatch(r"[A-Za-z]{3}", text):
            bad.append(Bad(label, f"not a currency code: {text!r} (three letters, e.g. EUR)"))
        return text.upper()
    if len(text) > 150:
        bad.append(Bad(label, "too long (at most 150 characters)"))
    elif problem := text_problem(text):
        bad.append(Bad(label, f"{text!r}: {problem}"))
    return text


#: The date formats an owner may set ([import] date_format, --date-format), with what they mean
#: to strptime: a date, or a date and a 24-hour time. Which of 02/03/2026's numbers is the month
#: is never guessed: the setting says. ISO dates (2026-03-02) are unambiguous and always read.
DATE_FORMATS: dict[str, tuple[str, ...]] = {
    "iso": (),
    "MM/DD/YYYY": ("%m/%d/%Y", "%m/%d/%Y %H:%M"),
    "DD/MM/YYYY": ("%d/%m/%Y", "%d/%m/%Y %H:%M"),
}
_EXAMPLE = {"MM/DD/YYYY": "03/31/2026", "DD/MM/YYYY": "31/03/2026"}


def _when(
    text: str, zone: ZoneInfo, now: datetime, label: str, bad: list[Bad], date_format: str = "iso"
) -> datetime | None:
    slashed = "/" in text
    try:
        if slashed and date_format != "iso":
            when = _slashed(text, date_format)
        elif len(text) == 10:
            when = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            when = datetime.fromisoformat(text)
    except ValueError:
        if slashed and date_format != "iso":
            example = _EXAMPLE[date_format]
            expected = f"{text!r} is not {date_format} (write e.g. {example} or {example} 14:30)"
        else:
            hint = "; for 03/02/2026 set [import] date_format or --date-format" if slashed else ""
            expected = (
                f"not a date: {text!r} (write 2026-03-02, or 2026-03-02T14:30 with an "
                f"optional offset such as +01:00{hint})"
            )
        bad.append(Bad(label, expected))
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    if problem := when_problem(when, now):
        bad.append(Bad(label, f"{text!r}: {problem}"))
        return None
    return when


def _slashed(text: str, date_format: str) -> datetime:
    """`text` read in the owner's day/month order: ValueError when it is not written so."""
    for pattern in DATE_FORMATS[date_format]:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValueError(text)
