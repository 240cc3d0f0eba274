"""`vouch partner ...`: add, list, show and change partners; record the clients given to a
partner and how they went, and clients a partner sent by phone or in person."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from daemon.config import load_config
from daemon.errors import VouchError
from daemon.partners import roster
from daemon.partners.roster import ClientIn, PartnerChange, PartnerIn
from daemon.run.services import Services, opened
from daemon.store.rows import Partner

EXIT_OK, EXIT_INVALID = 0, 2
Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    partner = sub.add_parser(
        "partner", parents=[common], help="businesses that refer clients to you and from you"
    )
    actions = partner.add_subparsers(required=True, metavar="ACTION")

    add = actions.add_parser("add", parents=[common], help="add a partner (and its referral link)")
    add.add_argument("name", help="the partner's business")
    add.add_argument("--email", required=True, help="where the partner reads our notes")
    add.add_argument("--trade", required=True, help="what they do")
    add.add_argument("--wants", required=True, help="the kind of client they want")
    _details(add)
    add.set_defaults(handler=_add)

    listed = actions.add_parser("list", parents=[common], help="every partner")
    listed.set_defaults(handler=_list)

    show = actions.add_parser("show", parents=[common], help="a partner and its referrals")
    show.add_argument("partner", help="its id (p_...), code, email address or business name")
    show.set_defaults(handler=_show)

    change = actions.add_parser("change", parents=[common], help="change a partner's details")
    change.add_argument("partner", help="its id (p_...), code, email address or business name")
    change.add_argument("--name", help="the partner's business")
    change.add_argument("--trade", help="what they do")
    change.add_argument("--wants", help="the kind of client they want")
    _details(change)
    change.set_defaults(handler=_change)

    gave = actions.add_parser("gave", parents=[common], help="record a client you sent them")
    gave.add_argument("partner", help="its id (p_...), code, email address or business name")
    _client(gave)
    gave.set_defaults(handler=_gave)

    received = actions.add_parser(
        "received", parents=[common], help="record a client they sent you by phone or in person"
    )
    received.add_argument("partner", help="its id (p_...), code, email address or business name")
    _client(received)
    received.add_argument(
        "--expects-contact",
        action="store_true",
        help="the client expects to hear from you (they get a short note)",
    )
    received.set_defaults(handler=_received)

    outcome = actions.add_parser(
        "outcome", parents=[common], help="how a client you gave a partner went"
    )
    outcome.add_argument("given", help="the id (g_...) `vouch partner gave` printed")
    outcome.add_argument("status", choices=roster.OUTCOMES)
    outcome.add_argument("--value", type=float, help="the business the partner won, if known")
    outcome.set_defaults(handler=_outcome)


def _details(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contact", help="the person we write to, e.g. 'Dana Lee'")
    parser.add_argument(
        "--reward",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="their referrals earn the reward of referrals.reward (default for a new partner: no)",
    )


def _client(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client", required=True, help="'Name <email>', an email address, or a name"
    )
    parser.add_argument("--note", help="what they need, in a few words")


def _run(args: argparse.Namespace, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run one piece of work against the store; a PartnerError is the owner's, in words."""
    config = load_config(args.config, os.environ)

    async def go() -> T:
        async with opened(config) as services:
            try:
                return await work(services)
            except roster.PartnerError as exc:
                raise VouchError(str(exc)) from None

    return asyncio.run(go())


def _valid(model: type[Model], fields: dict[str, Any], options: dict[str, str]) -> Model | None:
    """The model, or None after printing each problem under the option the owner typed."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"])
            where = options.get(field, "--client")
            print(f"{where}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return None


_OPTIONS = {
    "name": "NAME",
    "email": "--email",
    "trade": "--trade",
    "wants": "--wants",
    "contact": "--contact",
    "client_name": "--client",
    "client_email": "--client",
    "note": "--note",
}


def _add(args: argparse.Namespace) -> int:
    fields = vars(args)
    new = _valid(PartnerIn, {k: fields.get(k) for k in PartnerIn.model_fields}, _OPTIONS)
    if new is None:
        return EXIT_INVALID

    async def work(services: Services) -> str:
        partner = await roster.add(services, new)
        return _card(services, partner)

    print(_run(args, work), end="")
    return EXIT_OK


def _change(args: argparse.Namespace) -> int:
    fields = vars(args)
    wanted = _valid(PartnerChange, {k: fields.get(k) for k in PartnerChange.model_fields}, _OPTIONS)
    if wanted is None:
        return EXIT_INVALID

    async def work(services: Services) -> str:
        partner = await roster.find(services, args.partner)
        return _card(services, await roster.change(services, partner, wanted))

    print(_run(args, work), end="")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    async def work(services: Services) -> str:
        found = await services.store.partners()
        if not found:
            return "no partners yet: `vouch partner add NAME --email ... --trade ... --wants ...`\n"
        return "".join(
            f"{p.public_id}  {p.name}  <{p.email}>  {p.trade}{'  (reward)' if p.reward else ''}\n"
            for p in found
        )

    print(_run(args, work), end="")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    async def work(services: Services) -> str:
        partner = await roster.find(services, args.partner)
        received = await services.store.referrals_from(partner.advocate_id)
        given = await services.store.given_to(partner.id)
        lines = [_card(services, partner), f"Received ({len(received)}):"]
        lines += [
            f"  {r.public_id}  {r.friend_name or r.friend_email or '?'}  grade {r.grade}  "
            f"{r.status}" + (f"  {services.config.money(r.value)}" if r.value is not None else "")
            for r in received
        ]
        lines.append(f"Given ({len(given)}):")
        lines += [
            f"  {g.public_id}  {_who(g.client_name, g.client_email)}  {g.status}"
            + (f"  ({g.note})" if g.note else "")
            for g in given
        ]
        return "\n".join(lines) + "\n"

    print(_run(args, work), end="")
    return EXIT_OK


def _client_fields(args: argparse.Namespace) -> ClientIn | None:
    try:
        fields: dict[str, Any] = roster.parse_client(args.client)
    except roster.PartnerError as exc:
        print(f"--client: {exc}", file=sys.stderr)
        return None
    return _valid(ClientIn, {**fields, "note": args.note}, _OPTIONS)


def _gave(args: argparse.Namespace) -> int:
    client = _client_fields(args)
    if client is None:
        return EXIT_INVALID

    async def work(services: Services) -> str:
        partner = await roster.find(services, args.partner)
        given = await roster.give(services, partner, client)
        return (
            f"{given.public_id}: {_who(given.client_name, given.client_email)} given to "
            f"{partner.name}; when you hear how it went: "
            f"vouch partner outcome {given.public_id} won|lost\n"
        )

    print(_run(args, work), end="")
    return EXIT_OK


def _received(args: argparse.Namespace) -> int:
    client = _client_fields(args)
    if client is None:
        return EXIT_INVALID

    async def work(services: Services) -> str:
        partner = await roster.find(services, args.partner)
        referral = await roster.receive(
            services, partner, client, expects_contact=args.expects_contact
        )
        return (
            f"{referral.public_id}: {_who(client.client_name, client.client_email)} from "
            f"{partner.name} (grade {referral.grade}); the daemon thanks the partner. Later: "
            f"vouch referral {referral.public_id} contacted|meeting|won|lost\n"
        )

    print(_run(args, work), end="")
    return EXIT_OK


def _outcome(args: argparse.Namespace) -> int:
    async def work(services: Services) -> str:
        given = await services.store.given_referral(args.given)
        if given is None:
            raise roster.PartnerError(
                f"no referral {args.given!r} given to a partner (`vouch partner show` lists them)"
            )
        closed = await roster.close(services, given, args.status, args.value)
        return f"{closed.public_id} is now {closed.status}\n"

    print(_run(args, work), end="")
    return EXIT_OK


def _card(services: Services, partner: Partner) -> str:
    data = roster.partner_json(services, partner)
    contact = f"{partner.contact} <{partner.email}>" if partner.contact else partner.email
    return (
        f"{partner.name} ({partner.public_id})\n"
        f"  contact: {contact}\n"
        f"  trade:   {partner.trade}\n"
        f"  wants:   {partner.wants}\n"
        f"  reward:  {'yes' if partner.reward else 'none'}\n"
        f"  link:    {data['referral_url']}\n"
        f"  form:    {data['introduce_url']}\n"
    )


def _who(name: str | None, email: str | None) -> str:
    return f"{name} <{email}>" if name and email else name or email or "?"
