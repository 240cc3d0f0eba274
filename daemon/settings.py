"""Owner-edited TOML files, typed: strict sections; problems name file, key and what is valid."""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from daemon.engine.inputs import address, check_text
from daemon.errors import Problem


def stored_address(value: str) -> str:
    """An address as the store keeps it (checked as at intake, then lower-cased), for commands
    that name a person by it: ValueError saying why when `value` is not one."""
    try:
        return address(value).lower()
    except ValueError as exc:
        raise ValueError(f"not an email address: {value!r} ({exc})") from None


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone") from None
    return value


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError("not an http(s) URL")
    return value.rstrip("/")


#: ISO 4217 codes of the currencies in use (funds, metals and test codes left out).
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
CURRENCIES = frozenset(_ISO_4217.split())


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError("not an ISO 4217 currency code in use")
    return value


def _env_name(value: str) -> str:
    if not value.replace("_", "").isalnum() or value[0].isdigit():
        raise ValueError("not an environment variable name")
    return value


Email = Annotated[str, AfterValidator(address)]  # sendable: see daemon/engine/inputs.py
OneLine = Annotated[str, AfterValidator(check_text)]  # no control characters
FreeText = Annotated[str, AfterValidator(functools.partial(check_text, free=True))]  # + tab, lines
TimeZone = Annotated[str, AfterValidator(_timezone)]
Url = Annotated[str, AfterValidator(_url)]
Currency = Annotated[str, AfterValidator(_currency)]
EnvName = Annotated[str, AfterValidator(_env_name)]


class Section(BaseModel):
    """A table of an owner's file: unknown keys are mistakes, values never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_toml(path: Path, label: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parse a TOML file, turning a syntax error into a problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(label, "", "file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(label, "", f"cannot read: {exc}")]
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        where = f"line {match.group(1)}" if match else ""
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        if match:
            message += f" (column {match.group(2)})"
        return None, [Problem(label, where, f"not valid TOML: {message}")]


def validation_problems(
    exc: ValidationError, model: type[BaseModel], label: str, prefix: str = ""
) -> list[Problem]:
    """One Problem per pydantic error, phrased from the field's description."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        key = ".".join(([prefix] if prefix else []) + loc)
        problems.append(Problem(label, key, _phrase(error, model, error["loc"])))
    return problems


def _phrase(error: Any, model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        valid = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key{hint} (valid keys here: {', '.join(valid)})"
    field = _field_at(model, loc)
    wanted = field.description if field and field.description else None
    if kind == "missing":
        return f"required: {wanted}" if wanted else "required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if isinstance(error.get("input"), dict) and kind == "value_error":
        return message  # a rule across a whole table: the message says it all
    got = _show(error.get("input"))
    if not wanted:
        return f"{message}, got {got}"
    reason = f" ({message})" if kind == "value_error" else ""
    return f"must be {wanted}, got {got}{reason}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found:
                return found
    if origin in (dict, list):
        args = typing.get_args(annotation)
        return _model_of(args[-1]) if args else None
    return None


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        info = current.model_fields.get(str(part))
        if info is None:
            continue  # a list index or dict key: stay on the item model
        current = _model_of(info.annotation)
    return current


def _field_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> FieldInfo | None:
    if not loc:
        return None
    parent = _model_at(model, loc[:-1])
    if parent is None:
        return None
    for part in reversed(loc):
        info = parent.model_fields.get(str(part))
        if info is not None:
            return info
    return None
