"""Import and export in the dashboard: a CSV file checked line by line and then imported
(`vouch import`, the same reading and the same report: daemon/owner/importer.py), and each
export downloaded (`vouch export responses|referrals|customers`, the store's own rows).

An uploaded file is first checked with nothing written (the dry run); it is kept, in a folder
beside the store that only Vouch's user reads, for the Import button on the report, so what is
imported is exactly the file the owner saw checked. It is bound to the session that uploaded it,
removed once imported, and anything left behind is removed after KEPT.

Both are an owner's alone: an import plans surveys and asks to whoever it names, and every
export holds customers' addresses and words.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from daemon.errors import ConfigError, VouchError
from daemon.owner import importer
from daemon.owner.import_rows import DATE_FORMATS
from daemon.run.services import Services
from daemon.store.reports import EXPORTS
from daemon.web.owner import Refused, admin_page, checked_form, owner, record
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)

MAX_FILE = 20_000_000  # bytes: about 100,000 customers; larger files go through `vouch import`
KEPT = timedelta(hours=1)  # how long a checked file waits for its Import button
SHOWN = 200  # line problems shown on the page (the count says how many more)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


async def owner_of_data(request: Request) -> Session:
    """Import and export: an owner's alone (403 for staff, with the reason)."""
    session = await owner(request)
    if session.who.role != "owner":
        raise Refused(
            403,
            "Owners only",
            "Only an owner of the business can import customers or download the exports "
            "(they hold every customer's address). Nothing was changed.",
        )
    return session


OwnerOnly = Annotated[Session, Depends(owner_of_data)]


@dataclass(frozen=True)
class Report:
    """What the import said, as `vouch import` prints it: a line a problem, then the summary."""

    name: str
    kind: str
    dry_run: bool
    problems: list[str]
    more: int  # problems beyond SHOWN
    summary: str
    bad: int
    good: int
    token: str | None = None  # a checked file waiting to be imported


def _uploads(svc: Services) -> Path:
    """The folder of checked files: beside the store, readable by Vouch's user alone."""
    folder = svc.config.store_path.parent / "uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _tidy(svc: Services, folder: Path) -> None:
    """Checked files never imported, once older than KEPT (each in a folder of its own, named
    as uploaded: the report names the owner's file; its facts beside it, TOKEN.json)."""
    oldest = (svc.clock.now() - KEPT).timestamp()
    for held in folder.iterdir():
        if not held.is_dir():
            continue
        meta = held.with_suffix(".json")
        try:
            kept = json.loads(meta.read_text(encoding="utf-8"))["at"]
        except (OSError, ValueError, KeyError):
            kept = 0
        if kept < oldest:
            _drop(held)


def _drop(held: Path) -> None:
    shutil.rmtree(held, ignore_errors=True)
    held.with_suffix(".json").unlink(missing_ok=True)


def _page(
    request: Request,
    session: Session,
    status: int = 200,
    *,
    report: Report | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    svc = services(request)
    return admin_page(
        request,
        session,
        "admin/data.html",
        status,
        report=report,
        errors=errors or {},
        typed=typed or {},
        notice=notice,
        kinds=importer.KINDS,
        date_formats=DATE_FORMATS,
        date_format=svc.config.settings.import_.date_format,
        exports=list(EXPORTS),
        max_file=MAX_FILE,
    )


@router.get("/data")
async def data(request: Request, session: OwnerOnly) -> Response:
    return _page(request, session)


async def _run(
    svc: Services, path: Path, name: str, options: importer.Options
) -> tuple[importer.Tally, list[str]]:
    """The importer over the file, its line problems said as the CLI says them."""
    problems: list[str] = []
    with importer.CsvFile(path, options.kind) as source:
        tally = await importer.import_file(
            source,
            options,
            svc.config,
            svc.clock.now(),
            None if options.dry_run else svc,
            lambda error: problems.append(f"{name}: {error}"),
        )
    return tally, problems


def _report(
    tally: importer.Tally,
    problems: list[str],
    options: importer.Options,
    name: str,
    token: str | None = None,
) -> Report:
    return Report(
        name=name,
        kind=options.kind,
        dry_run=options.dry_run,
        problems=problems[:SHOWN],
        more=max(0, len(problems) - SHOWN),
        summary=importer.summary(tally, options, name),
        bad=tally.bad,
        good=tally.good,
        token=token,
    )


def _choices(form: FormData, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """The form's kind and date format, checked: (typed, errors by field)."""
    typed = {
        "kind": str(form.get("kind") or ""),
        "date_format": str(form.get("date_format") or ""),
        "survey_history": "yes" if form.get("survey_history") == "yes" else "",
    }
    errors: dict[str, str] = {}
    kind = typed["kind"] or importer.kind_of(Path(name)) or ""
    if kind not in importer.KINDS:
        errors["kind"] = f"Say what the file holds: {', '.join(importer.KINDS)}" + (
            f" (its name {name!r} does not say)." if name else "."
        )
    typed["kind"] = kind
    if typed["date_format"] and typed["date_format"] not in DATE_FORMATS:
        errors["date_format"] = f"Choose one of {', '.join(DATE_FORMATS)}."
    return typed, errors


def _options(typed: dict[str, str], dry_run: bool) -> importer.Options:
    return importer.Options(
        typed["kind"],
        dry_run=dry_run,
        survey_history=typed["survey_history"] == "yes",
        date_format=typed["date_format"] or None,
    )


@router.post("/data/check")
async def check(request: Request, session: OwnerOnly) -> Response:
    """An uploaded file checked with nothing written (`vouch import --dry-run`), and kept for
    the Import button when at least one line is good."""
    try:
        return await _check(request, session)
    finally:  # the upload's temporary file, whatever happened (a refused token too)
        await (await request.form()).close()


async def _check(request: Request, session: Session) -> Response:
    form = await checked_form(request, session)
    svc = services(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        typed = _choices(form, "")[0]
        return _page(request, session, 422, errors={"file": "Choose a CSV file."}, typed=typed)
    name = _SAFE_NAME.sub("_", Path(upload.filename).name).lstrip(".")[:100] or "upload.csv"
    typed, errors = _choices(form, name)
    data = await upload.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        errors["file"] = (
            f"{name} is larger than {MAX_FILE:,} bytes: import it with vouch import on the server."
        )
    if errors:
        return _page(request, session, 422, errors=errors, typed=typed)
    folder = _uploads(svc)
    _tidy(svc, folder)
    token = secrets.token_hex(16)
    held = folder / token
    held.mkdir(mode=0o700)
    path = held / name
    path.write_bytes(data)
    options = _options(typed, dry_run=True)
    try:
        tally, problems = await _run(svc, path, name, options)
    except VouchError as exc:
        _drop(held)
        return _page(request, session, 422, errors={"file": _said(exc)}, typed=typed)
    if not tally.good:
        _drop(held)
        token = ""
    else:
        meta = {
            "session": _held_by(session),
            "name": name,
            "at": svc.clock.now().timestamp(),
            **typed,
        }
        held.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    report = _report(tally, problems, options, name, token or None)
    return _page(request, session, 422 if tally.bad else 200, report=report, typed=typed)


def _held_by(session: Session) -> str:
    """Which session a checked file waits for (a hash: the session's id is not written down)."""
    return hashlib.sha256(session.id).hexdigest()


def _said(exc: VouchError) -> str:
    if isinstance(exc, ConfigError):
        return " ".join(str(p) for p in exc.problems)
    return str(exc)


@router.post("/data/import")
async def import_checked(request: Request, session: OwnerOnly) -> Response:
    """The file checked a moment ago, imported (`vouch import`): its good lines written, its
    bad ones reported again; then the scheduler plans what the new events ask for."""
    form = await checked_form(request, session)
    svc = services(request)
    token = str(form.get("token") or "")
    folder = _uploads(svc)
    held = folder / (token if _TOKEN.match(token) else "none")
    try:
        meta = json.loads(held.with_suffix(".json").read_text(encoding="utf-8"))
        path = held / str(meta["name"])
    except (OSError, ValueError, KeyError, TypeError):
        meta = None
    if not meta or meta.get("session") != _held_by(session):
        raise Refused(
            409,
            "Not imported",
            "That checked file is no longer waiting (it was imported, or checked over an hour "
            "ago). Nothing was imported; upload it again to check it.",
        )
    held.with_suffix(".json").unlink(missing_ok=True)  # one Import a check, pressed twice or not
    name = str(meta["name"])
    options = _options(
        {k: str(meta.get(k) or "") for k in ("kind", "date_format", "survey_history")}, False
    )
    try:
        tally, problems = await _run(svc, path, name, options)
    except VouchError as exc:
        raise Refused(422, "Import stopped", f"{_said(exc)}.") from None
    finally:
        _drop(held)
    done = importer.summary(tally, options, name).splitlines()[0]
    await record(request, session, f"imported {done}", f"import:{options.kind}")
    svc.nudge()
    report = _report(tally, problems, options, name)
    return _page(request, session, 422 if tally.bad else 200, report=report, notice="Imported.")


@router.post("/data/export/{what}")
async def export(request: Request, what: str, session: OwnerOnly) -> Response:
    """`vouch export WHAT`, as a download: the same header, rows and times (in the business's
    time zone), a page of the store at a time."""
    await checked_form(request, session)
    if what not in EXPORTS:
        raise Refused(404, "No such export", f"There is no export {what!r}.")
    svc = services(request)
    await record(request, session, f"downloaded the {what} export", f"export:{what}")
    header = EXPORTS[what][0]
    zone = ZoneInfo(svc.config.settings.business.timezone)

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        async for row in svc.store.export_rows(what, zone):
            writer.writerow(row)
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    day = svc.clock.now().astimezone(zone).date().isoformat()
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{what}-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )
