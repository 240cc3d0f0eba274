"""The `vouch` command. Exit codes: 0 done, 1 failed, 2 the owner's files or arguments are wrong."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from daemon.clock import SystemClock
from daemon.config import Config, load_config
from daemon.engine.funnel import STEPS
from daemon.engine.influence import Influence, parse_mark
from daemon.engine.inputs import depth_problem, text_problem, too_deep
from daemon.errors import ConfigError, Problem, StoreDamaged, StoreUnavailable, VouchError
from daemon.intake.accept import Refused, accept_event
from daemon.intake.events import EventIn
from daemon.mail.compose import build_email, enqueue
from daemon.mail.locales import TAG
from daemon.mail.outbox import State
from daemon.mail.render import KINDS, Renderer
from daemon.owner import stages, starter
from daemon.owner import users_cli as user_cli
from daemon.owner.import_rows import DATE_FORMATS
from daemon.owner.report import FORMATS, MAX_MONTHS, render
from daemon.owner.report import from_store as report_from_store
from daemon.partners import cli as partner_cli
from daemon.partners import report as partner_report
from daemon.referrals import follow_up, funnel, influence, offers, review_asks, sources
from daemon.run.sender import Sender
from daemon.run.services import Services, open_store, opened
from daemon.store import Recorded
from daemon.store.pgdb import pg_stored_version
from daemon.store.reports import EXPORTS
from daemon.transport import build_transport

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
ROLES = ("all", "web", "worker")  # as daemon/run/runtime.py Role


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # a reader that has gone is found here, not in Python's exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except ConfigError as exc:
        print(f"{len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INVALID
    except StoreDamaged as exc:  # the owner's file: restore a backup
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except VouchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _reader_gone() -> int:
    """Standard output's reader closed the pipe (`vouch export customers | head`): stop quietly,
    with stdout pointed at /dev/null so Python's own flush at exit does not fail again (the
    recipe in the Python docs, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=Path("config.toml"), help="path to config.toml"
    )
    parser = argparse.ArgumentParser(prog="vouch", description=__doc__, parents=[common])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run the daemon (web server and sender)")
    run.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="all (the default): everything in one process; web: HTTP only; worker: the "
        "scheduler and the sender only. Any number of each may share one store",
    )
    run.add_argument(
        "--instance",
        type=_instance,
        help="this process's name on its outbox leases and the scheduler lease, unique among "
        "the processes (default: sender.instance; a worker adds its host and process id)",
    )
    run.set_defaults(handler=_run)

    check = sub.add_parser("check", parents=[common], help="validate config and templates")
    check.add_argument(
        "--deliverability",
        action="store_true",
        help="then show the DNS records (SPF, DKIM, DMARC) to publish for the sending domain",
    )
    check.set_defaults(handler=_check)

    preview = sub.add_parser("preview", parents=[common], help="render an email with sample data")
    preview.add_argument("template", help=f"an email kind: {', '.join(sorted(KINDS))}")
    preview.add_argument("--html", type=Path, help="write the HTML part to this file")
    preview.add_argument(
        "--locale", help="the reader's locale, such as fr or fr-CA (default: the business's)"
    )
    preview.set_defaults(handler=_preview)

    send_test = sub.add_parser(
        "send-test", parents=[common], help="send a test email through the configured transport"
    )
    send_test.add_argument("address")
    send_test.set_defaults(handler=_send_test)

    resume = sub.add_parser(
        "resume", parents=[common], help="resume sending paused because the relay refused us"
    )
    resume.set_defaults(handler=_resume)

    event = sub.add_parser("event", parents=[common], help="record an event by hand")
    event.add_argument("type", help="e.g. purchase.completed")
    event.add_argument("--email", help="the customer's email address")
    event.add_argument("--name")
    event.add_argument("--external-id")
    event.add_argument("--timezone")
    event.add_argument("--locale")
    event.add_argument("--tag", action="append", default=[], help="repeatable")
    event.add_argument("--id", help="idempotency key (default: a new random id)")
    event.add_argument("--occurred-at", help="ISO 8601 with offset (default: now)")
    event.add_argument(
        "--data", action="append", default=[], metavar="KEY=VALUE", help="repeatable; JSON values"
    )
    event.set_defaults(handler=_event)

    report = sub.add_parser(
        "report", parents=[common], help="NPS, segments, response rate and trend, by survey and tag"
    )
    report.add_argument(
        "what",
        nargs="?",
        choices=[
            "nps",
            "referrals",
            "funnel",
            "offers",
            "advocates",
            "partners",
            "stages",
            "reviews",
        ],
        default="nps",
        help="nps, the referral sources, the referral funnel by month and channel, the offer "
        "test, advocates by influence, the partner balance, the customers' life-cycle stages, "
        "or review asks and the sites clicked (default: nps)",
    )
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument(
        "--months", type=int, default=12, help=f"months in the trend, 1-{MAX_MONTHS} (default 12)"
    )
    report.set_defaults(handler=_report)

    export = sub.add_parser(
        "export", parents=[common], help="write responses, referrals or customers as CSV"
    )
    export.add_argument("what", choices=["responses", "referrals", "customers"])
    export.add_argument("--out", type=Path, help="a file to write (default: standard output)")
    export.set_defaults(handler=_export)

    import_ = sub.add_parser(
        "import", parents=[common], help="import customers, purchases or projects from CSV"
    )
    import_.add_argument(
        "what",
        nargs="+",
        metavar="[KIND] FILE",
        help="KIND: customers, purchases or projects (default: the one the file's name says)",
    )
    import_.add_argument("--dry-run", action="store_true", help="check every line, write nothing")
    import_.add_argument(
        "--date-format",
        choices=list(DATE_FORMATS),
        help="how the file writes dates (default: [import] date_format of the config, or iso); "
        "ISO dates such as 2026-03-02 are read whatever it says",
    )
    import_.add_argument(
        "--survey-history",
        action="store_true",
        help="survey past purchases and projects now (default: none for an event older than "
        "its survey's life)",
    )
    import_.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: on a terminal)",
    )
    import_.set_defaults(handler=_import)

    resolve = sub.add_parser(
        "resolve", parents=[common], help="mark a detractor's complaint resolved"
    )
    resolve.add_argument("complaint", type=int, help="the complaint id from the owner alert")
    resolve.add_argument(
        "--note", default="resolved", type=_note, help="what was done (kept with it)"
    )
    resolve.set_defaults(handler=_resolve)

    referral = sub.add_parser("referral", parents=[common], help="move a referral on")
    referral.add_argument("id", help="the referral id (r_...), from the owner's email or the API")
    referral.add_argument("status", choices=["contacted", "meeting", "won", "lost"])
    referral.add_argument("--value", type=float, help="the business won (with won)")
    referral.add_argument("--note", type=_note, help="a few words the advocate may see")
    referral.add_argument(
        "--share",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="tell the advocate (default: yes for contacted, no for meeting and lost)",
    )
    referral.set_defaults(handler=_referral)

    init = sub.add_parser(
        "init",
        parents=[common],
        help="start a new business folder from the default files",
        description="Copy the default files into a new folder, with config.toml made for your "
        "business. A value not given is asked for on a terminal.",
    )
    init.add_argument("dir", type=Path, help="a new or empty folder")
    for key, option, explain in starter.QUESTIONS:
        init.add_argument(option, dest=key, type=_business_value(key), help=explain)
    init.set_defaults(handler=_init)

    partner_cli.add_parser(sub, common)
    user_cli.add_parser(sub, common)

    reward = sub.add_parser("reward", parents=[common], help="approve rewards, load codes")
    reward_sub = reward.add_subparsers(required=True, metavar="ACTION")
    approve = reward_sub.add_parser("approve", parents=[common], help="release a held reward")
    approve.add_argument("id", help="the referral id (r_...)")
    approve.set_defaults(handler=_reward_approve)
    load = reward_sub.add_parser("load", parents=[common], help="add codes to the reward pool")
    load.add_argument("file", type=Path, help="a text file, one code a line")
    load.set_defaults(handler=_reward_load)

    customer = sub.add_parser("customer", parents=[common], help="the owner's marks on a customer")
    customer_sub = customer.add_subparsers(required=True, metavar="ACTION")
    mark = customer_sub.add_parser(
        "mark", parents=[common], help="set how influential a customer is (0-10)"
    )
    mark.add_argument("email", help="the customer's email address")
    marked = mark.add_mutually_exclusive_group(required=True)
    marked.add_argument("--influence", help="0-10: your judgement of their influence")
    marked.add_argument("--clear", action="store_true", help="remove the mark")
    mark.set_defaults(handler=_customer_mark)

    survey = sub.add_parser("survey", parents=[common], help="a survey's public link")
    survey_sub = survey.add_subparsers(required=True, metavar="ACTION")
    survey_link = survey_sub.add_parser(
        "link", parents=[common], help="print a survey's public link (public = true in its file)"
    )
    survey_link.add_argument("survey", help="the survey's id (its file's name)")
    survey_link.add_argument(
        "--qr", type=Path, help="also write the link as a QR code to this .svg or .png file"
    )
    survey_link.set_defaults(handler=_survey_link)

    store = sub.add_parser("store", parents=[common], help="the store as a whole")
    store_sub = store.add_subparsers(required=True, metavar="ACTION")
    store_copy = store_sub.add_parser(
        "copy",
        parents=[common],
        help="copy the whole store to a new, empty one (SQLite <-> PostgreSQL), daemon stopped",
    )
    store_copy.add_argument(
        "--to", required=True, help="the target: a postgresql://... URL or a SQLite file's path"
    )
    store_copy.add_argument(
        "--password-env", help="the environment variable holding the target's password"
    )
    store_copy.add_argument(
        "--verify-only",
        action="store_true",
        help="copy nothing: compare each table's rows and checksum with the target's",
    )
    store_copy.set_defaults(handler=_store_copy)

    for name, helps, argument, kind, argument_help, handler in _ONE_ARGUMENT:
        command = sub.add_parser(name, parents=[common], help=helps)
        command.add_argument(argument, type=kind, help=argument_help)
        command.set_defaults(handler=handler)
    return parser


def _store_copy(args: argparse.Namespace) -> int:
    """Copy the store the config names to --to, then compare both, table by table."""
    from daemon.store import copy

    config = load_config(args.config, os.environ)
    source: str | Path = config.settings.store.url or config.store_path
    target: str | Path = args.to if args.to.startswith("postgresql://") else Path(args.to)
    password = None
    if args.password_env is not None:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"error: --password-env: {args.password_env} is not set", file=sys.stderr)
            return EXIT_INVALID

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        tallies = asyncio.run(
            copy.copy_store(
                source,
                target,
                (config.secrets.store_password, password),
                say,
                verify_only=args.verify_only,
            )
        )
    except copy.CopyRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(copy.table_of(tallies))
    wrong = [t.table for t in tallies if not t.matches]
    if wrong:
        print(f"error: the copy differs from the store in: {', '.join(wrong)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"verified: {len(tallies)} tables, {sum(t.source_rows for t in tallies)} rows")
    return EXIT_OK


def _note(value: str) -> str:
    """A note as the dashboard and the API take it (argparse exits 2 with the problem)."""
    if problem := text_problem(value, free=True):
        raise argparse.ArgumentTypeError(problem)
    return value


def _instance(value: str) -> str:
    """A name as sender.instance takes it: 1-64 printable characters, no spaces."""
    if not re.fullmatch(r"[!-~]{1,64}", value):
        raise argparse.ArgumentTypeError("1-64 printable ASCII characters, no spaces")
    return value


def _run(args: argparse.Namespace) -> int:
    import uvloop

    from daemon.run.runtime import Daemon

    daemon = Daemon(args.config, os.environ, SystemClock(), role=args.role, instance=args.instance)
    uvloop.run(daemon.run())
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from daemon.run.checked import load_checked

    config, renderer = load_checked(args.config, os.environ, SystemClock())
    translated = ", ".join(renderer.locales())
    print(
        f"{config.path}: ok ({len(config.surveys)} surveys; "
        f"{len(KINDS)} email kinds rendered with sample data"
        + (f", and their translations: {translated})" if translated else ")")
    )
    print(store_line(config))
    if args.deliverability:
        from daemon.mail.deliverability import dns_advice

        print(f"\n{dns_advice(config)}", end="")
    return EXIT_OK


def store_line(config: Config) -> str:
    """What `vouch check` says of the store: whether `vouch run` will migrate it (and from
    which version), or cannot open it because it is newer than this Vouch (a problem). The
    store is only read: check never migrates."""
    from daemon.run.services import store_name
    from daemon.store.sqlite import LATEST, stored_version

    url = config.settings.store.url
    name, key = store_name(config), "store.url" if url else "store.path"
    try:
        found = (
            stored_version(config.store_path)
            if url is None
            else asyncio.run(pg_stored_version(url, config.secrets.store_password))
        )
    except StoreUnavailable as exc:
        raise ConfigError([Problem(config.path.name, key, f"cannot read {name}: {exc}")]) from None
    if found is None:
        return f"store {name}: not created yet (vouch run creates it, schema {LATEST})"
    if found == LATEST:
        return f"store {name}: up to date (schema {LATEST})"
    if found < LATEST:
        return (
            f"store {name}: behind, at schema {found}; vouch run brings it to {LATEST} when it "
            "starts (a backup first keeps a way back)"
        )
    raise ConfigError(
        [
            Problem(
                config.path.name,
                key,
                f"{name} is at schema {found}, newer than this Vouch knows ({LATEST}): "
                "upgrade Vouch, or restore a backup made before the upgrade",
            )
        ]
    )


def _preview(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)
    if args.template not in KINDS:
        print(
            f"unknown email kind {args.template!r}; known: {', '.join(sorted(KINDS))}",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.locale is not None and not TAG.fullmatch(args.locale):
        print(f'not a locale: {args.locale!r} (write e.g. "fr" or "fr-CA")', file=sys.stderr)
        return EXIT_INVALID
    renderer = Renderer(config, SystemClock())
    language = renderer.language(args.template, args.locale)
    if args.locale is not None:
        print(f"({args.template} for a reader of {args.locale}: written in {language})")
    rendered = renderer.preview(args.template, args.locale)
    if args.html:
        args.html.write_text(rendered.html, encoding="utf-8")
        print(f"wrote {args.html}")
    print(f"Subject: {rendered.subject}\n\n{rendered.text}")
    return EXIT_OK


def _send_test(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)
    return asyncio.run(_send_test_async(config, args.address))


async def _send_test_async(config: Config, address: str) -> int:
    clock = SystemClock()
    async with opened(config, clock) as services:
        row_id = await enqueue(
            services,
            build_email(
                services,
                kind="test",
                context={"recipient": address, "sent_at": clock.now()},
                to_email=address,
                dedupe_key=f"test:{uuid.uuid4()}",
            ),
        )
        assert row_id is not None
        transport = build_transport(config, clock)
        sender = Sender(
            services.store,
            transport,
            clock,
            config.settings.sender,
            services.metrics,
            owner=f"cli-{os.getpid()}",
        )
        try:
            await sender.send_now([row_id])
        finally:
            await transport.aclose()
        row = await services.store.outbox_row(row_id)
        pause = await services.store.sending_pause()
    assert row is not None
    if pause is not None:
        print(f"sending is paused: {pause.reason}; `vouch resume` once the relay works")
    how = config.settings.email.transport
    if row.state is State.SENT:
        print(f"sent a test email to {address} via {how} (Message-ID {row.message_id})")
        return EXIT_OK
    if row.state is State.QUEUED:
        print(f"not sent yet ({row.last_error}); it stays queued and the daemon will retry it")
    else:
        print(f"not sent: {row.state.value}: {row.last_error}", file=sys.stderr)
    return EXIT_FAILED


def _resume(args: argparse.Namespace) -> int:
    """The pause lives in the store, so this works beside a running daemon: its sender sees
    the pause gone at its next look (within `sender.poll_seconds`)."""
    config = load_config(args.config, os.environ)
    return asyncio.run(_resume_async(config))


async def _resume_async(config: Config) -> int:
    async with opened(config) as services:
        was = await services.store.resume_sending()
    if was is None:
        print("sending was not paused")
    else:
        print(f"sending resumed (paused since {was.since:%Y-%m-%d %H:%M} UTC: {was.reason})")
    return EXIT_OK


def _event(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)
    data: dict[str, Any] = {}
    for item in args.data:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"--data {item!r}: expected KEY=VALUE", file=sys.stderr)
            return EXIT_INVALID
        if too_deep(value.encode()):
            print(f"--data {key}: {depth_problem()}", file=sys.stderr)
            return EXIT_INVALID
        try:
            data[key] = json.loads(value)
        except json.JSONDecodeError:
            data[key] = value
    customer = None
    if args.email:
        customer = {
            k: v
            for k, v in {
                "email": args.email,
                "name": args.name,
                "external_id": args.external_id,
                "timezone": args.timezone,
                "locale": args.locale,
                "tags": args.tag,
            }.items()
            if v not in (None, [])
        }
    clock = SystemClock()
    try:
        event = EventIn.model_validate(
            {
                "id": args.id or str(uuid.uuid4()),
                "type": args.type,
                "occurred_at": args.occurred_at or clock.now().isoformat(),
                "customer": customer,
                "data": data,
            }
        )
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            print(_said(field, message), file=sys.stderr)
        return EXIT_INVALID
    return asyncio.run(_record(config, event))


def _said(field: str, message: str) -> str:
    """A problem with an event given by hand, naming the option that gives the field
    (customer.tags.2: --tag); data's keys are named as they are."""
    first, _, rest = field.partition(".")
    if first == "data":
        return f"{field}: {message}"
    if first == "customer":
        part = rest.partition(".")[0]
        flag = {"": "--email", "tags": "--tag"}.get(part, f"--{part.replace('_', '-')}")
    else:
        flag = {"id": "--id", "occurred_at": "--occurred-at"}.get(first, "TYPE")
    return f"{field}: {message} ({flag})"


async def _record(config: Config, event: EventIn) -> int:
    async with opened(config) as services:
        try:
            outcome = await accept_event(services, event)
        except Refused as exc:
            for r in exc.refusals:
                print(_said(r.field, r.message), file=sys.stderr)
            return EXIT_INVALID
    if outcome.recorded is Recorded.CONFLICT:
        print(f"event id {event.id!r} was used before for a different event", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(outcome.receipt, indent=2))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    if args.what == "referrals":
        return _report_referrals(args)
    if args.what in ("offers", "advocates"):
        return _report_advocacy(args)
    if args.what == "partners":
        return _report_partners(args)
    if not 1 <= args.months <= MAX_MONTHS:
        print(f"--months: from 1 to {MAX_MONTHS}, not {args.months}", file=sys.stderr)
        return EXIT_INVALID
    if args.what == "reviews":
        return _report_reviews(args)
    if args.what == "funnel":
        return _report_funnel(args)
    config = load_config(args.config, os.environ)
    if args.what == "stages":
        print(stages.render(asyncio.run(_report_stages(config, args.months)), args.format), end="")
        return EXIT_OK
    print(asyncio.run(_report_async(config, args.format, args.months)), end="")
    return EXIT_OK


async def _report_async(config: Config, fmt: str, months: int) -> str:
    store = await open_store(config)
    try:
        timezone = config.settings.business.timezone
        report = await report_from_store(
            store, config.surveys, timezone, SystemClock().now(), months
        )
    finally:
        await store.close()
    return render(report, fmt)


async def _report_stages(config: Config, months: int) -> dict[str, Any]:
    store = await open_store(config)
    try:
        timezone = config.settings.business.timezone
        return await stages.report(store, SystemClock().now(), timezone, months)
    finally:
        await store.close()


def _resolve(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)
    closed = asyncio.run(_resolve_async(config, args.complaint, args.note))
    if not closed:
        print(f"no open complaint {args.complaint}", file=sys.stderr)
        return EXIT_FAILED
    print(f"complaint {args.complaint} resolved; referral asks may resume for this customer")
    return EXIT_OK


async def _resolve_async(config: Config, complaint: int, note: str) -> int:
    store = await open_store(config)
    try:
        return await store.resolve_complaints(
            customer_id=None, complaint_id=complaint, note=note, now=SystemClock().now()
        )
    finally:
        await store.close()


def _report_reviews(args: argparse.Namespace) -> int:
    """`vouch report reviews`: review asks sent, and the sites people clicked, per month."""
    config = load_config(args.config, os.environ)
    data = _built(config, lambda services: review_asks.from_store(services, args.months))

    def rows() -> Iterator[list[Any]]:
        yield ["month", "asks", "clicks", "site", "site_clicks"]
        for m in data["months"]:
            for site, n in m["sites"].items() or [("", "")]:
                yield [m["month"], m["asks"], m["clicks"], site, n]

    return _print_report(data, args.format, rows, lambda: review_asks.table(data))


def _report_funnel(args: argparse.Namespace) -> int:
    """`vouch report funnel`: per month and channel, shown, opened, introduced, bought, won."""
    config = load_config(args.config, os.environ)
    data = _built(config, lambda services: funnel.from_store(services, args.months))

    def rows() -> Iterator[list[Any]]:
        yield ["month", "channel", *STEPS[:-1], f"value_won ({data['currency']})"]
        for m in data["months"]:
            for channel, steps in m["channels"].items():
                yield [m["month"], channel, *(steps[s] for s in STEPS)]

    return _print_report(data, args.format, rows, lambda: funnel.table(data, config.money))


def _built(
    config: Config, build: Callable[[Services], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """A report's data, built on the business's store."""

    async def run() -> dict[str, Any]:
        async with opened(config) as services:
            return await build(services)

    return asyncio.run(run())


def _print_report(
    data: dict[str, Any],
    fmt: str,
    rows: Callable[[], Iterable[list[Any]]],
    table: Callable[[], str],
) -> int:
    """A report as JSON, CSV (its rows, the header first) or the owner's table."""
    if fmt == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        csv.writer(sys.stdout).writerows(rows())
    else:
        print(table(), end="")
    return EXIT_OK


def _report_referrals(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)

    async def build() -> dict[str, Any]:
        async with opened(config) as services:
            store = services.store
            return sources.report(
                await store.referral_facts(), await store.tags_by_kind(), currency
            )

    currency = config.settings.business.currency
    data = asyncio.run(build())
    if args.format == "json":
        print(json.dumps(data, indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(
            [
                "advocate",
                "email",
                "referrals",
                "grade_a",
                "grade_b",
                "grade_c",
                "contacted",
                "won",
                f"value_won ({data['currency']})",
                "conversion",
                "median_days_to_close",
            ]
        )
        for s in data["advocates"]:
            writer.writerow(
                [
                    s["advocate"],
                    s["email"],
                    s["referrals"],
                    s["by_grade"]["A"],
                    s["by_grade"]["B"],
                    s["by_grade"]["C"],
                    s["contacted"],
                    s["won"],
                    s["value_won"],
                    s["conversion"],
                    s["median_days_to_close"],
                ]
            )
    else:
        print(sources.table(data, config.money), end="")
    return EXIT_OK


def _report_advocacy(args: argparse.Namespace) -> int:
    """`vouch report offers|advocates`: the offer test, or customers ranked by influence."""
    if args.format == "csv":
        print(f"report {args.what}: use --format table or json", file=sys.stderr)
        return EXIT_INVALID
    config = load_config(args.config, os.environ)

    async def build() -> dict[str, Any]:
        async with opened(config) as services:
            if args.what == "advocates":
                return await influence.report(services)
            terms = offers.configured(config.settings.referrals)
            currency = config.settings.business.currency
            return offers.report(terms, await services.store.offer_facts(), currency)

    data = asyncio.run(build())
    if args.format == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif args.what == "advocates":  # influence, no amounts
        print(influence.table(data), end="")
    else:
        print(offers.table(data, config.money), end="")
    return EXIT_OK


def _customer_mark(args: argparse.Namespace) -> int:
    try:
        mark = None if args.clear else parse_mark(args.influence)
    except ValueError as exc:
        print(f"--influence: {exc}", file=sys.stderr)
        return EXIT_INVALID
    config = load_config(args.config, os.environ)

    async def set_it() -> Influence:
        async with opened(config) as services:
            try:
                return await influence.set_mark(services, args.email, mark, "owner")
            except LookupError as exc:
                raise VouchError(str(exc)) from None

    scored = asyncio.run(set_it())
    what = "mark removed" if mark is None else f"marked {mark}"
    why = "; ".join(scored.reasons) or "nothing counts yet"
    print(f"{args.email}: {what}; influence now {scored.score:g} ({why})")
    return EXIT_OK


def _survey_link(args: argparse.Namespace) -> int:
    import segno

    from daemon.surveys import public

    config = load_config(args.config, os.environ, need_secrets=True)
    survey = config.surveys.get(args.survey)
    if survey is None:
        known = ", ".join(sorted(config.surveys)) or "none"
        print(f"no survey {args.survey!r} in surveys/ (surveys: {known})", file=sys.stderr)
        return EXIT_INVALID
    if not survey.public:
        print(
            f"surveys/{survey.id}.toml: public: the survey has no public link; set "
            "public = true, then reload the daemon (SIGHUP)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.qr is not None and args.qr.suffix.lower() not in (".svg", ".png"):
        print(f"--qr: {args.qr}: name a .svg or .png file", file=sys.stderr)
        return EXIT_INVALID
    url = public.link(config, survey.id)
    print(url)
    if args.qr is not None:
        segno.make(url, error="m", micro=False).save(str(args.qr), scale=8, border=4)
        print(f"QR code written to {args.qr}")
    return EXIT_OK


def _report_partners(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)

    async def build() -> dict[str, Any]:
        async with opened(config) as services:
            currency = config.settings.business.currency
            return partner_report.report(await services.store.partner_facts(), currency)

    data = asyncio.run(build())
    if args.format == "json":
        print(json.dumps(data, indent=2))
    elif args.format == "csv":
        csv.writer(sys.stdout).writerows(partner_report.csv_rows(data))
    else:
        print(partner_report.table(data, config.money), end="")
    return EXIT_OK


def _referral(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ, need_secrets=True)

    async def move() -> str:
        async with opened(config) as services:
            referral = await services.store.referral(args.id)
            if referral is None:
                raise VouchError(f"no referral {args.id!r}")
            try:
                moved = await follow_up.change_status(
                    services,
                    referral,
                    args.status,
                    value=args.value,
                    note=args.note,
                    share=args.share,
                )
            except follow_up.ReferralError as exc:
                raise VouchError(str(exc)) from None
            return moved.status

    status = asyncio.run(move())
    print(f"referral {args.id} is now {status}; the daemon sends any notes due")
    return EXIT_OK


def _reward_approve(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)

    async def approve() -> bool:
        async with opened(config) as services:
            referral = await services.store.referral(args.id)
            if referral is None:
                raise VouchError(f"no referral {args.id!r}")
            return (
                await services.store.approve_reward(referral.id, services.clock.now()) is not None
            )

    if not asyncio.run(approve()):
        print(f"no reward waiting for approval on {args.id}", file=sys.stderr)
        return EXIT_FAILED
    print(f"reward for {args.id} approved; the daemon sends the thank-you")
    return EXIT_OK


def _reward_load(args: argparse.Namespace) -> int:
    from daemon.referrals import reward_codes

    config = load_config(args.config, os.environ)
    try:
        codes = reward_codes.parse(args.file.read_bytes(), str(args.file))
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    except reward_codes.CodeFileError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("nothing was loaded", file=sys.stderr)
        return EXIT_INVALID

    async def load() -> reward_codes.Loaded:
        async with opened(config) as services:
            return await reward_codes.load(services, codes)

    loaded = asyncio.run(load())
    print(f"{loaded.added} new codes in the pool ({loaded.in_file} in the file)")
    return EXIT_OK


def _forget(args: argparse.Namespace) -> int:
    from daemon.owner import privacy

    try:
        exact = privacy.exact_address(args.address)
    except privacy.NotAnAddress as exc:
        print(f"error: {exc}; vouch forget takes the person's email address", file=sys.stderr)
        return EXIT_INVALID
    config = load_config(args.config, os.environ)

    async def forget() -> dict[str, Any]:
        async with opened(config) as services:
            return await privacy.forget(services, exact)

    try:
        done = asyncio.run(forget())
    except privacy.NoErasureKey as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print("\n".join(privacy.summary(exact, done)))
    return EXIT_OK


def _resubscribe(args: argparse.Namespace) -> int:
    import getpass

    from daemon.owner.resubscribe import NotAnAddress, NotLifted, resubscribe

    config = load_config(args.config, os.environ)
    try:
        by = f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in this environment
        by = "cli"

    async def lift() -> Any:
        async with opened(config) as services:
            return await resubscribe(services, args.address, by)

    try:
        lifted = asyncio.run(lift())
    except NotAnAddress as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except NotLifted as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    print(
        f"{lifted.address} is subscribed again (the {lifted.reason!r} suppression of "
        f"{lifted.suppressed_at:%Y-%m-%d} is lifted, recorded as by {lifted.by})"
    )
    return EXIT_OK


def _export_person(args: argparse.Namespace) -> int:
    from daemon.owner import privacy

    config = load_config(args.config, os.environ)

    async def export() -> dict[str, Any]:
        async with opened(config) as services:
            return await privacy.export(services, args.address)

    try:
        person = asyncio.run(export())
    except privacy.NotAnAddress as exc:
        print(
            f"error: {exc}; vouch export-person takes the person's email address", file=sys.stderr
        )
        return EXIT_INVALID
    print(json.dumps(person, indent=2, ensure_ascii=False))
    return EXIT_OK


def _sqlite_only(config: Config, command: str) -> None:
    """`vouch backup` and `restore` copy a SQLite file; a PostgreSQL store has its own tools."""
    if config.settings.store.url is not None:
        raise ConfigError(
            [
                Problem(
                    config.path.name,
                    "store.url",
                    f"vouch {command} copies a SQLite store; this one is PostgreSQL: use "
                    "PostgreSQL's own pg_dump and pg_restore",
                )
            ]
        )


def _backup(args: argparse.Namespace) -> int:
    from daemon.store.backup import backup

    config = load_config(args.config, os.environ)
    _sqlite_only(config, "backup")
    copied = asyncio.run(backup(config.store_path, args.path))
    print(
        f"backed up {config.store_path} to {copied.path} ({copied.pages} pages, "
        f"schema {copied.schema_version}, integrity ok)"
    )
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from daemon.store.backup import restore

    config = load_config(args.config, os.environ)
    _sqlite_only(config, "restore")
    copied = asyncio.run(restore(args.path, config.store_path))
    kept = copied.path.with_name(copied.path.name + ".before-restore")
    print(
        f"restored {args.path} to {copied.path} (schema {copied.schema_version})"
        + (f"; the old store is kept as {kept}" if kept.exists() else "")
    )
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    config = load_config(args.config, os.environ)
    header, _ = EXPORTS[args.what]

    async def write(out: Any) -> int:
        writer = csv.writer(out)
        writer.writerow(header)
        count = 0
        async with opened(config) as services:
            zone = ZoneInfo(config.settings.business.timezone)
            async for row in services.store.export_rows(args.what, zone):
                writer.writerow(row)
                count += 1
        return count

    if args.out:
        with args.out.open("w", newline="", encoding="utf-8") as out:
            count = asyncio.run(write(out))
        print(f"wrote {count} {args.what} to {args.out}", file=sys.stderr)
    else:
        asyncio.run(write(sys.stdout))
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from daemon.owner import importer

    return importer.run(
        load_config(args.config, os.environ),
        args.what,
        SystemClock(),
        dry_run=args.dry_run,
        survey_history=args.survey_history,
        date_format=args.date_format,
        progress=args.progress,
    )


def _business_value(key: str) -> Callable[[str], str]:
    """An init option checked as `vouch check` checks the key (argparse exits 2 naming it)."""

    def checked(value: str) -> str:
        if wrong := starter.problem(key, value):
            raise argparse.ArgumentTypeError(wrong)
        return value

    return checked


def _init(args: argparse.Namespace) -> int:
    starter.refuse_occupied(args.dir)
    missing = [q for q in starter.QUESTIONS if not getattr(args, q[0])]
    if missing and not sys.stdin.isatty():
        options = ", ".join(option for _, option, _ in missing)
        print(
            f"error: missing {options} (no terminal to ask on): give each as an option",
            file=sys.stderr,
        )
        return EXIT_INVALID
    business = {key: getattr(args, key) for key, _, _ in starter.QUESTIONS}
    try:
        for key, _, explain in missing:
            business[key] = starter.ask(key, explain)
    except EOFError:
        print("\nstopped: nothing was written", file=sys.stderr)
        return EXIT_FAILED
    copied = starter.init(args.dir, business)
    made = [name if n == 1 else f"{name}/ ({n} files)" for name, n in copied.items()]
    print(f"created {args.dir}: {', '.join(made)}")
    print(starter.next_steps(args.dir / "config.toml", business))
    return EXIT_OK


#: The commands that take one argument: name, help, the argument, its type and help, handler.
_ONE_ARGUMENT: tuple[tuple[str, str, str, type, str, Callable[[argparse.Namespace], int]], ...] = (
    (
        "forget",
        "erase a person's data (anonymous figures stay)",
        "address",
        str,
        "the person's email address",
        _forget,
    ),
    (
        "resubscribe",
        "lift an address's unsubscribe (not a bounce or a spam complaint)",
        "address",
        str,
        "the customer's email address",
        _resubscribe,
    ),
    (
        "export-person",
        "print everything stored about a person (JSON)",
        "address",
        str,
        "the person's email address",
        _export_person,
    ),
    (
        "backup",
        "copy the store (safe while the daemon runs)",
        "path",
        Path,
        "the backup file to write",
        _backup,
    ),
    (
        "restore",
        "put a backup in place of the store (daemon stopped)",
        "path",
        Path,
        "a file made by vouch backup",
        _restore,
    ),
)
