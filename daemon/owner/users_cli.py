"""`vouch user add|list|password|disable`: the dashboard's users from a terminal, through the
same code as the Users page (daemon/owner/users.py). A password is never an argument (it would
sit in the shell's history and the process list): it is typed twice on a terminal, or read from
standard input with --password-stdin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from daemon.config import load_config
from daemon.owner import users
from daemon.run.services import Services, opened

EXIT_OK, EXIT_INVALID = 0, 2
T = TypeVar("T")


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    user = sub.add_parser("user", parents=[common], help="the dashboard's users (owner, staff)")
    actions = user.add_subparsers(required=True, metavar="ACTION")

    add = actions.add_parser("add", parents=[common], help="add a dashboard user")
    add.add_argument("email", help="their email address: they log in with it")
    add.add_argument("--name", required=True, help="their name, shown on what they do")
    add.add_argument("--role", required=True, choices=users.ROLES, help="owner or staff")
    _password_stdin(add)
    add.set_defaults(handler=_add)

    listed = actions.add_parser("list", parents=[common], help="every dashboard user")
    listed.set_defaults(handler=_list)

    password = actions.add_parser(
        "password", parents=[common], help="set a user's password (their sessions end)"
    )
    password.add_argument("email", help="the user's email address")
    _password_stdin(password)
    password.set_defaults(handler=_password)

    disable = actions.add_parser(
        "disable", parents=[common], help="stop a user logging in (their sessions end)"
    )
    disable.add_argument("email", help="the user's email address")
    disable.set_defaults(handler=_disable)


def _password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (its first line) instead of a terminal",
    )


def _read_password(args: argparse.Namespace) -> str | None:
    """The new password, from stdin or typed twice; None (said on stderr) if they differ."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("password: no terminal to type it on; use --password-stdin", file=sys.stderr)
        return None
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        print("password: the two did not match; nothing was changed", file=sys.stderr)
        return None
    return first


def _with_store(args: argparse.Namespace, work: Callable[[Services], Awaitable[T]]) -> T:
    config = load_config(args.config, os.environ)

    async def run() -> T:
        async with opened(config) as services:
            return await work(services)

    return asyncio.run(run())


def _refused(exc: users.UserError) -> int:
    print(f"{exc.field}: {exc.problem}; nothing was changed", file=sys.stderr)
    return EXIT_INVALID


def _add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return EXIT_INVALID
    try:
        made = _with_store(
            args,
            lambda s: users.add(s.store, args.email, args.name, args.role, password, s.clock.now()),
        )
    except users.UserError as exc:
        return _refused(exc)
    print(f"added {made.role} {made.name} <{made.email}>: they log in to the dashboard with it")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    found = _with_store(args, lambda s: s.store.users())
    if not found:
        print("no users: the shared dashboard password logs in as the owner")
    for u in found:
        state = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active"
        print(f"{u.email}\t{u.name}\t{u.role}\t{state}")
    return EXIT_OK


def _password(args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return EXIT_INVALID
    try:
        user = _with_store(
            args, lambda s: users.set_password(s.store, args.email, password, s.clock.now())
        )
    except users.UserError as exc:
        return _refused(exc)
    print(f"password set for {user.email}; their dashboard sessions have ended")
    return EXIT_OK


def _disable(args: argparse.Namespace) -> int:
    try:
        user = _with_store(args, lambda s: users.disable(s.store, args.email, s.clock.now()))
    except users.UserError as exc:
        return _refused(exc)
    print(f"disabled {user.email}; their dashboard sessions have ended")
    return EXIT_OK
