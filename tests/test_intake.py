"""Bad input is refused at the door, never accepted and failed later (issue 12, items 3a, 7).

Through the real app (both paths of POST /v1/events: the plain ASGI fast path for
application/json, FastAPI's route for other JSON types), the real forms, webhooks, `vouch
import` and `vouch event`, on a real SQLite store: each bad input gets a 4xx (or a line error,
or exit 2) naming the field, and nothing is stored; the near misses still pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from loop import AUTH, Loop, path_of, running, score_links, smtp_changes

from daemon.cli import main
from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.engine.grades import check
from daemon.engine.inputs import MAX_DEPTH, address, mailbox, text_problem, too_deep, when_problem
from daemon.mail.render import Renderer
from daemon.owner.importer import CsvFile, LineError, Options, import_file
from daemon.run.metrics import Metrics
from daemon.run.services import Services
from daemon.store import Store
from daemon.web import create_app

from dashboard_data import CONFIG_CHANGES, DETRACTOR, ENV_EXTRA, PASSWORD, field, seed
from helpers import ENV, merge, query, write_business
from smtp_server import SmtpServer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the fake clock's (tests/conftest.py, loop.py)
FAST, ROUTE = "application/json", "application/vnd.vouch+json"
PATHS = pytest.mark.parametrize("content_type", [FAST, ROUTE], ids=["fast-path", "route"])


def event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "order-1001",
        "type": "purchase.completed",
        "occurred_at": "2026-03-01T10:00:00Z",
        "customer": {"email": "ann@example.com", "name": "Ann Example"},
        "data": {"order": "1001"},
    }
    body.update(changes)
    return body


def nested(levels: int) -> Any:
    """`levels` objects one inside another."""
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": value}
    return value


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def stored(store: Store) -> dict[str, int]:
    """What the store holds that an accepted input would have added."""
    return {
        table: query(store, f"SELECT count(*) FROM {table}")[0][0]
        for table in ("events", "customers", "responses", "replies", "referrals")
    }


NOTHING = {"events": 0, "customers": 0, "responses": 0, "replies": 0, "referrals": 0}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as c:
        yield c


async def post(
    client: httpx.AsyncClient, path: str, body: Any, content_type: str = FAST
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(path, content=content, headers={**AUTH, "Content-Type": content_type})


def refused(answer: httpx.Response, field: str, words: str) -> None:
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert field in [p["field"] for p in problems], problems
    message = next(p["message"] for p in problems if p["field"] == field)
    assert words in message, message
    assert f"{field}: " in answer.json()["detail"]


# events: both paths ----------------------------------------------------------------------------

ANN = {"email": "ann@example.com"}
ZOE = {"email": "zoe@example.com"}
BAD_EVENTS = [
    ({"occurred_at": "9999-12-31T00:00:00Z"}, "occurred_at", "more than a day ahead of now"),
    ({"occurred_at": "2026-03-03T09:00:01Z"}, "occurred_at", "more than a day ahead of now"),
    ({"occurred_at": "1969-12-31T23:59:59Z"}, "occurred_at", "before 1970"),
    ({"customer": {**ANN, "name": "Ann\x00Example"}}, "customer.name", "control character"),
    ({"id": "order\x7f1001"}, "id", "control character (U+007F"),
    ({"customer": {**ANN, "external_id": "c\x851"}}, "customer.external_id", "U+0085"),
    ({"customer": {**ANN, "tags": ["kit\x1bchen"]}}, "customer.tags.0", "control characters"),
    (
        {"type": "testimonial.received", "data": {"text": "Great\x00 work"}},
        "data",
        "text: contains a control character",
    ),
    ({"customer": {"email": "ü@exämple.com"}}, "customer.email", "non-ASCII characters before"),
    ({"data": {"x": nested(256)}}, "data.x.a", "nested more than 32 levels"),
    ({"data": {"x": nested(MAX_DEPTH - 1)}}, "data.x.a", "nested more than"),  # one too many
    ({"customer": None}, "customer", "a purchase.completed event is about a customer"),
    ({"type": "lead.created", "customer": None}, "customer", "about a customer"),
    (
        {"type": "referral.status_changed", "customer": None, "data": {"referral": "r_nope"}},
        "data.referral",
        "no referral 'r_nope'",
    ),
    (
        {"type": "referral.status_changed", "data": {"referral": "r_nope", "status": "paid"}},
        "data.status",
        "unknown status 'paid': use contacted, meeting, won, lost",
    ),
    ({"type": "complaint.resolved", "customer": None}, "data", "complaint_id: the complaint"),
]


@PATHS
@pytest.mark.parametrize(("changes", "field", "words"), BAD_EVENTS)
async def test_a_bad_event_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient,
    store: Store,
    content_type: str,
    changes: dict[str, Any],
    field: str,
    words: str,
) -> None:
    answer = await post(client, "/v1/events", event(**changes), content_type)
    refused(answer, field, words)
    assert stored(store) == NOTHING


@PATHS
async def test_json_too_deep_for_the_parser_is_a_422_not_a_500(
    client: httpx.AsyncClient, store: Store, content_type: str
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    body = b'{"id": "x", "type": "purchase.completed", "data": {"x": ' + deep + b"}}"
    refused(await post(client, "/v1/events", body, content_type), "data.x", "nested more than")
    assert stored(store) == NOTHING


@pytest.mark.parametrize(
    "path", ["/v1/responses", "/v1/inbound", "/v1/partners", "/v1/referrals/r_x/status"]
)
async def test_every_json_route_refuses_json_too_deep(
    client: httpx.AsyncClient, store: Store, path: str
) -> None:
    body = b'{"comment": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    answer = await post(client, path, body)
    refused(answer, "comment", f"nested more than {MAX_DEPTH} levels deep")
    assert stored(store) == NOTHING


@PATHS
async def test_near_misses_are_accepted(
    client: httpx.AsyncClient, services: Services, content_type: str
) -> None:
    good = [
        event(id="a-day-ahead", occurred_at="2026-03-03T09:00:00Z"),  # now + exactly one day
        event(id="epoch", occurred_at="1970-01-01T00:00:00Z"),
        event(id="accents", customer={**ZOE, "name": "Zoë Ångström-Núñez", "tags": ["café"]}),
        event(
            id="lines",
            type="testimonial.received",
            data={"text": "Great crew.\r\n\n\tWould hire again.", "source": "Google"},
        ),
        event(id="deep-enough", data={"x": nested(MAX_DEPTH - 2)}),  # 32 with body and data
        event(id="idn", customer={"email": "Bob@Exämple.COM"}),
        event(id="by-number", type="complaint.resolved", customer=None, data={"complaint_id": 7}),
        event(id="unknown-type", type="carrier.pigeon_landed", customer=None),
    ]
    for body in good:
        answer = await post(client, "/v1/events", body, content_type)
        assert answer.status_code == 202, answer.text
    zoe = await services.store.customer_by_email(ZOE["email"])
    assert zoe is not None and zoe.name == "Zoë Ångström-Núñez"
    # The internationalised domain is kept in the form every relay takes.
    assert await services.store.customer_by_email("Bob@xn--exmple-cua.com") is not None


# the other API doors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"answered_at": "9999-12-31T00:00:00Z"}, "answered_at", "more than a day ahead"),
        ({"answered_at": "1901-01-01T00:00:00Z"}, "answered_at", "before 1970"),
        ({"comment": "Good\x00job"}, "comment", "control character (U+0000"),
        ({"comment": "Good\x1b[31m job"}, "comment", "tabs and line breaks are the only"),
        ({"id": "resp\x0b1"}, "id", "control character"),
        ({"customer": {"email": "ü@exämple.com"}}, "customer.email", "non-ASCII"),
    ],
)
async def test_a_bad_response_is_refused(
    client: httpx.AsyncClient, store: Store, changes: dict[str, Any], field: str, words: str
) -> None:
    body = {"customer": ANN, "survey": "post_purchase", "score": 9, **changes}
    refused(await post(client, "/v1/responses", body), field, words)
    assert stored(store) == NOTHING


async def test_a_response_near_the_bounds_is_recorded(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = {
        "customer": ANN,
        "survey": "post_purchase",
        "score": 9,
        "comment": "Great crew.\nWould hire again.",
        "answered_at": "2026-03-03T09:00:00Z",
    }
    answer = await post(client, "/v1/responses", body)
    assert answer.status_code == 202, answer.text
    assert query(store, "SELECT comment FROM responses") == [("Great crew.\nWould hire again.",)]


async def test_inbound_takes_from_as_mail_providers_write_it(
    client: httpx.AsyncClient, store: Store
) -> None:
    for i, sender in enumerate(
        ['"Example, Ann" <Ann@Example.com>', "Ann Example <ann@example.com>", "ann@example.com"]
    ):
        body = {"from": sender, "subject": "Re: hello", "text": f"Thanks!\n\nAnn {i}"}
        answer = await post(client, "/v1/inbound", body)
        assert answer.status_code == 202, answer.text
    assert query(store, "SELECT from_addr FROM replies") == [("ann@example.com",)] * 3


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"from": "Ü <ü@exämple.com>"}, "from", "non-ASCII characters before the @"),
        ({"from": "Ann <not an address>"}, "from", "email address"),
        ({"text": "Thanks\x00"}, "text", "control character"),
        ({"in_reply_to": "<a@b>\x00"}, "in_reply_to", "control character"),
    ],
)
async def test_a_bad_inbound_reply_is_refused(
    client: httpx.AsyncClient, store: Store, changes: dict[str, Any], field: str, words: str
) -> None:
    body = {"from": "ann@example.com", "text": "Thanks", **changes}
    refused(await post(client, "/v1/inbound", body), field, words)
    assert stored(store) == NOTHING


async def test_a_partner_with_control_characters_is_refused(
    client: httpx.AsyncClient, store: Store
) -> None:
    partner = {"name": "Harbour\x00Health", "email": "hi@harbour.example", "trade": "physio"}
    refused(await post(client, "/v1/partners", {**partner, "wants": "clients"}), "name", "U+0000")
    assert query(store, "SELECT count(*) FROM partners") == [(0,)]


# the webhooks ----------------------------------------------------------------------------------

STRIPE, SHOPIFY = "whsec_test_0123456789abcdef", "shpss_test_0123456789abcdef"


@pytest.fixture
async def webhooks(
    make_config: Callable[..., Config], store: Store, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Config]]:
    names = {"stripe_secret_env": "STRIPE_WEBHOOK_SECRET", "shopify_secret_env": "SHOPIFY_SECRET"}
    env = {**ENV, "STRIPE_WEBHOOK_SECRET": STRIPE, "SHOPIFY_SECRET": SHOPIFY}
    config = load_config(make_config({"integrations": names}).path, env)
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as c:
        yield c, config


def checkout(created: Any) -> bytes:
    details = {"email": "jenny@example.com", "name": "Jenny Rosen"}
    session = {"id": "cs_1", "amount_total": 4200, "currency": "gbp", "customer_details": details}
    stripe = {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": session}}
    return json.dumps({**stripe, "created": created}).encode()


async def test_webhook_dates_are_bounded(
    webhooks: tuple[httpx.AsyncClient, Config], store: Store
) -> None:
    client, _ = webhooks
    stamp = int(NOW.timestamp())
    for created, words in (
        (253402214400, "occurred_at: 9999-12-31T00:00:00+00:00 is more than a day ahead"),
        (10**20, "created is not a Unix time"),
        ("soon", "created is not a Unix time"),
    ):
        body = checkout(created)
        mac = hmac.new(STRIPE.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}
        answer = await client.post("/v1/integrations/stripe", content=body, headers=headers)
        assert answer.status_code == 422 and words in answer.json()["detail"], answer.text
    for when, words in (
        ("9999-12-31T00:00:00Z", "more than a day ahead"),
        ("1960-01-01T00:00:00Z", "before 1970"),
    ):
        order = {"id": 8209, "email": "jon@example.com", "updated_at": when, "total_price": "4"}
        body = json.dumps(order).encode()
        mac = base64.b64encode(hmac.new(SHOPIFY.encode(), body, hashlib.sha256).digest()).decode()
        headers = {"X-Shopify-Hmac-Sha256": mac, "X-Shopify-Topic": "orders/fulfilled"}
        answer = await client.post("/v1/integrations/shopify", content=body, headers=headers)
        assert answer.status_code == 422 and words in answer.json()["detail"], answer.text
    assert stored(store) == NOTHING


# vouch import, vouch event ---------------------------------------------------------------------


async def test_import_refuses_bad_lines_and_keeps_the_near_misses(
    services: Services, tmp_path: Path
) -> None:
    path = tmp_path / "purchases.csv"
    path.write_text(
        "Order ID,Email,Name,Date,Product\n"
        "A-1,ann@example.com,Ann,1969-12-31,Tiles\n"
        "A-2,bo@example.com,Bo,9999-12-31,Tiles\n"
        "A-3,cy@example.com,Cy\x1b[2J,2026-03-01,Tiles\n"
        "A-4,ü@exämple.com,Di,2026-03-01,Tiles\n"
        "A-5,eve@example.com,Eve,2026-03-01,Til\x7fes\n"
        "A-6,zoe@exämple.com,Zoë Núñez,2026-03-03T09:00:00+00:00,Café tiles\n",
        encoding="utf-8",
    )
    errors: list[LineError] = []
    with CsvFile(path, "purchases") as source:
        tally = await import_file(
            source, Options("purchases"), services.config, NOW, services, errors.append
        )
    said = [str(e) for e in errors]
    assert said[0].startswith("line 2, column 'Date': '1969-12-31': ")
    assert said[0].endswith("is before 1970")
    assert said[1].startswith("line 3, column 'Date': '9999-12-31': ")
    assert "more than a day ahead of now" in said[1]
    assert said[2].startswith("line 4, column 'Name': 'Cy\\x1b[2J': contains a control")
    assert said[3].startswith("line 5, column 'Email': 'ü@exämple.com': ")
    assert "non-ASCII characters before the @" in said[3]
    assert said[4].startswith("line 6, column 'Product': 'Til\\x7fes': contains a control")
    assert (tally.good, tally.bad, tally.new) == (1, 5, 1)
    assert query(services.store, "SELECT email, name FROM customers") == [
        ("zoe@xn--exmple-cua.com", "Zoë Núñez")
    ]


@pytest.fixture
def business(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return write_business(tmp_path / "biz")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "customer: required: a purchase.completed event is about a customer"),
        (["--email", "ann@example.com", "--occurred-at", "9999-12-31T00:00:00Z"], "occurred_at:"),
        (["--email", "ann@example.com", "--occurred-at", "1969-07-20T20:17:00Z"], "before 1970"),
        (["--email", "ann@example.com", "--name", "Ann\x1b"], "customer.name: contains a control"),
        (["--email", "ü@exämple.com"], "customer.email: 'ü@exämple.com' has non-ASCII"),
        (["--email", "a@example.com", "--data", "x=" + json.dumps(nested(40))], "--data x: nested"),
    ],
)
def test_vouch_event_refuses_bad_input_with_exit_2(
    business: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    assert main(["event", "purchase.completed", *args, "--config", str(business)]) == 2
    assert said in capsys.readouterr().err


def test_vouch_event_without_email_names_the_option(
    business: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["event", "project.completed", "--config", str(business)]) == 2
    assert "(--email)" in capsys.readouterr().err
    config = load_config(business, ENV)
    assert not config.store_path.exists()  # refused before the store is even opened
    by_hand = ["event", "referral.status_changed", "--data", "referral=r_nope"]
    assert main([*by_hand, "--data", "status=won", "--config", str(business)]) == 2
    assert "data.referral: no referral 'r_nope'" in capsys.readouterr().err
    assert rows(config.store_path, "SELECT count(*) FROM events") == [(0,)]


# the public forms and the dashboard, on the whole daemon ---------------------------------------


async def test_survey_form_keeps_what_was_typed_and_refuses_control_characters(
    loop: Loop,
) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T08:00:00Z")
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = loop.new_mail()
    page = path_of(score_links(survey)[9])
    typed = "Great crew\x00 – thank you"
    answer = await loop.client.post(page, data={"score": "9", "comment": typed, "via": "form"})
    assert answer.status_code == 400
    assert "characters we cannot keep" in answer.text
    assert typed in html.unescape(answer.text)  # what the person typed, to correct
    assert 'value="9" checked' in answer.text
    assert query(loop.services.store, "SELECT count(*) FROM responses") == [(0,)]
    fine = "Great crew.\r\nThank you!"
    answer = await loop.client.post(page, data={"score": "9", "comment": fine, "via": "form"})
    assert answer.status_code == 200, answer.text
    assert query(loop.services.store, "SELECT comment FROM responses") == [
        ("Great crew.\nThank you!",)
    ]


async def test_introduce_form_refuses_control_characters_and_unsendable_addresses(
    loop: Loop,
) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T08:00:00Z")
    ann = await loop.services.store.customer_by_email("ann@example.com")
    assert ann is not None
    code = (await loop.services.store.ensure_advocate(ann.id, loop.clock.now())).code
    path = f"/r/{code}/introduce"
    dee = {"friend_name": "Dee", "friend_email": "dee@example.com"}
    for form, field_name, words in (
        ({**dee, "friend_name": "Dee\x00"}, "friend_name", "control characters"),
        ({**dee, "friend_email": "ü@exämple.com"}, "friend_email", "non-ASCII"),
        ({**dee, "friend_phone": "0123\x7f456"}, "friend_phone", "control characters"),
        ({**dee, "need": "A kitchen\x1b"}, "need", "control characters"),
        ({**dee, "timing": "next\x00 month"}, "timing", "control characters"),
    ):
        answer = await loop.client.post(path, data=form)
        assert answer.status_code == 400, (form, answer.text)
        assert words in check(form, [])[1][field_name]
        assert words in html.unescape(answer.text)
        for value in form.values():
            assert html.escape(value) in answer.text or value in answer.text  # kept as typed
    assert stored(loop.services.store)["referrals"] == 0
    ok = {"friend_name": "Zoë", "friend_email": "zoe@exämple.com", "need": "A kitchen.\nSoon."}
    assert (await loop.client.post(path, data=ok)).status_code == 200
    ((public_id, email),) = query(
        loop.services.store, "SELECT public_id, friend_email FROM referrals"
    )
    assert email == "zoe@xn--exmple-cua.com"
    # A status change names a referral that exists now, and a status it can take.
    moved = {
        "id": "moved",
        "type": "referral.status_changed",
        "occurred_at": loop.clock.now().isoformat(),
        "data": {"referral": public_id, "status": "contacted"},
    }
    assert (await loop.client.post("/v1/events", json=moved, headers=AUTH)).status_code == 202
    wrong = {**moved, "id": "wrong", "data": {"referral": public_id, "status": "Contacted"}}
    refused(await loop.client.post("/v1/events", json=wrong, headers=AUTH), "data.status", "use")


async def test_an_internationalised_domain_is_sent_to(loop: Loop) -> None:
    """An internationalised domain is stored in IDNA form, the form the relay is given."""
    await loop.event("purchase.completed", "bob@exämple.com", "2026-03-02T08:00:00Z")
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = loop.new_mail()
    assert survey["To"].addresses[0].addr_spec == "bob@xn--exmple-cua.com"


async def test_a_dashboard_note_with_control_characters_is_refused(
    tmp_path: Path,
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    changes = merge(smtp_changes(smtp_server), CONFIG_CHANGES)
    config = load_config(write_business(tmp_path / "dash", changes), {**ENV, **ENV_EXTRA})
    async with running(config, smtp_server, store_url) as loop:
        await seed(loop.services, loop.client)
        customer = await loop.services.store.customer_by_email(DETRACTOR[1])
        assert customer is not None
        (complaint,) = await loop.services.store.open_complaint_list(10)
        login = await loop.client.get("/admin/login")
        await loop.client.post(
            "/admin/login",
            data={"nonce": field(login.text, "nonce"), "next": "/admin", "password": PASSWORD},
        )
        path = f"/admin/complaints/{complaint.id}/resolve"
        token = field((await loop.client.get("/admin")).text, "csrf")
        bad = await loop.client.post(path, data={"csrf": token, "note": "Fixed\x00 it"})
        assert bad.status_code == 400 and "control character" in bad.text
        assert await loop.services.store.open_complaints(customer.id) == 1
        good = await loop.client.post(path, data={"csrf": token, "note": "Fixed.\nAll good."})
        assert good.status_code == 303
        assert await loop.services.store.open_complaints(customer.id) == 0


# the rules themselves ----------------------------------------------------------------------------


def test_the_rules() -> None:
    assert when_problem(NOW + timedelta(days=1), NOW) is None
    assert when_problem(NOW + timedelta(days=1, microseconds=1), NOW) is not None
    assert when_problem(datetime(1970, 1, 1, tzinfo=UTC), NOW) is None
    assert text_problem("Zoë\u00a0Núñez – “quoted”") is None
    assert text_problem("a\tb") is not None and text_problem("a\tb\r\nc", free=True) is None
    assert text_problem("\ud800", free=True) is not None  # a lone surrogate is no text
    # Brackets and quotes inside strings are text, not nesting.
    assert too_deep(json.dumps({"a": "[[[[{{{{" * 100, 'k"[': ["]]]"]}).encode()) is None
    assert too_deep(json.dumps([nested(MAX_DEPTH - 1)]).encode()) is None
    assert too_deep(json.dumps([nested(MAX_DEPTH)]).encode()) == "a.a"
    assert too_deep(b"[" * (MAX_DEPTH + 1)) == "body"
    assert address("Ann@Exämple.COM") == "Ann@xn--exmple-cua.com"
    assert mailbox('"Lee, Ann" <ann@example.com>') == "ann@example.com"
    with pytest.raises(ValueError, match="non-ASCII characters before the @"):
        address("ü@example.com")


@pytest.mark.parametrize("command", [["resolve", "1"], ["referral", "r_x", "contacted"]])
def test_a_note_given_by_hand_with_control_characters_exits_2(
    business: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--note", "done\x1b[2J", "--config", str(business)])
    assert exited.value.code == 2
    assert "argument --note: contains a control character (U+001B" in capsys.readouterr().err
