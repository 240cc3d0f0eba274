"""The admin API (JSON, bearer token) and the operational endpoints."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from daemon.engine.inputs import mailbox, when_problem
from daemon.engine.replies import InboundMail
from daemon.engine.segments import segment
from daemon.errors import StoreUnavailable
from daemon.intake import inbound
from daemon.intake.accept import accept_event
from daemon.intake.events import EventIn, aware
from daemon.intake.inbound_smtp import parse_inbound
from daemon.mail.tokens import read_survey_token
from daemon.owner import stages
from daemon.settings import Email, FreeText, OneLine
from daemon.store import EventOutcome, Recorded
from daemon.store.customers import Customers
from daemon.store.lifecycle import Lifecycle
from daemon.store.outbox import Outbox
from daemon.store.rows import Answer, Saved
from daemon.store.setaside import SetAsides
from daemon.surveys.answers import Closed, answer_invitation, record
from daemon.web.auth import has_token, require_token
from daemon.web.state import services


class GetCustomerStore(Customers, Lifecycle, Outbox, SetAsides, Protocol):
    """The store as `get_customer` uses it."""


class Detail(BaseModel):
    detail: str


class Problem(BaseModel):
    field: str
    message: str


class Invalid(BaseModel):
    """A 422 (and a refusal about a field): what is wrong, in words, field by field."""

    error: str
    detail: str
    problems: list[Problem]


class Refused(BaseModel):
    """A refusal that is not about one field: not found, a conflict, a body too large."""

    error: str
    detail: str | None = None


Responses = dict[int | str, dict[str, Any]]
# The answers the schema documents (schemathesis checks every response against them).
UNAUTHORIZED: Responses = {401: {"model": Detail, "description": "missing or wrong bearer token"}}
INVALID: Responses = {
    422: {"model": Invalid, "description": "the request is not valid (each field named)"},
}
NOT_FOUND: Responses = {404: {"model": Refused, "description": "no such record"}}
SET_ASIDE_SHOWN = 100  # a customer's set-aside items in GET /v1/customers/{email}
UNAVAILABLE: Responses = {
    503: {
        "model": Refused,
        "description": "the store cannot write now (e.g. its disk is full): nothing was "
        "recorded; send it again after Retry-After seconds",
    }
}
#: Seconds a client is asked to wait before sending again when the store cannot write.
RETRY_AFTER_SECONDS = 30
BODY: Responses = {  # what a route with a JSON body adds
    400: {"model": Detail, "description": "the body could not be read (e.g. not UTF-8)"},
    413: {"model": Refused, "description": "the body is over server.max_body_bytes"},
}

router = APIRouter()
admin = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)


@admin.post(
    "/v1/events",
    status_code=202,
    responses={
        409: {"model": Refused, "description": "the id was already used for a different event"},
        **INVALID,
        **BODY,
        **UNAVAILABLE,
    },
)
async def post_event(event: EventIn, request: Request) -> JSONResponse:
    """Record an event. The id is an idempotency key; the event is committed before the 202.
    (An authorised event that validates is answered by `fast_events` before reaching here.)"""
    status, content, headers = event_answer(event, await accept_event(services(request), event))
    return JSONResponse(status_code=status, content=content, headers=headers)


def event_answer(
    event: EventIn, outcome: EventOutcome
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, JSON and headers that answer a recorded event (the route and fast_events)."""
    if outcome.recorded is Recorded.CONFLICT:
        return (
            409,
            {
                "error": "event id already used",
                "detail": f"event {event.id!r} was recorded before with a different body; "
                "use a new id for a new event",
            },
            {},
        )
    replayed = outcome.recorded is Recorded.REPLAY
    return 202, outcome.receipt, {"Idempotent-Replayed": "true"} if replayed else {}


def unavailable_answer(exc: StoreUnavailable) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The 503 for a request the store could not record (the app's handler and fast_events)."""
    return (
        503,
        {
            "error": "not recorded",
            "detail": f"the store cannot write now ({exc}); nothing was recorded: send it "
            f"again in {RETRY_AFTER_SECONDS} seconds",
        },
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@router.get("/healthz", responses={503: {"description": "failing: `problems` says why"}})
async def healthz(request: Request) -> JSONResponse:
    """200 when all is well; 503 with the reasons when a loop has not completed a pass for a
    while, the store cannot write, or sending is paused (daemon/run/health.py). The loops' last
    errors only with the admin token: anyone may ask whether the daemon is well."""
    svc = services(request)
    detailed = has_token(request)
    report = await svc.health.check(svc.store, svc.clock.now(), detailed=detailed)
    problems = list(report.problems)
    outbox: dict[str, int] = {}
    try:
        outbox = {state.value: n for state, n in (await svc.store.outbox_counts()).items()}
    except StoreUnavailable as exc:
        problems.append(f"the store cannot be read: {exc}")
    loops = {
        name: {
            "last_pass": loop.passed.isoformat() if loop.passed else None,
            "last_error": loop.error if detailed else None,
        }
        for name, loop in report.loops.items()
    }
    content: dict[str, Any] = {
        "status": "failing" if problems else "ok",
        "problems": problems,
        "loops": loops,
        "outbox": outbox,
    }
    if (pause := report.paused) is not None:  # the relay refuses us (sender.py)
        content["paused"] = {
            "reason": pause.reason,
            "since": pause.since.isoformat(),
            "next_probe": pause.probe_at.isoformat(),
        }
    return JSONResponse(status_code=503 if problems else 200, content=content)


@admin.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    svc = services(request)
    svc.metrics.set_outbox(await svc.store.outbox_counts())
    svc.metrics.set_health(
        await svc.health.check(svc.store, svc.clock.now()),
        (await svc.store.set_aside_items(0))[0],
    )
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


class CustomerRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: Email


class ResponseIn(BaseModel):
    """A response collected elsewhere (an in-app widget, a form tool, an SMS gateway)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: OneLine | None = Field(None, min_length=1, max_length=200, description="idempotency key")
    invitation: OneLine | None = Field(None, max_length=512, description="a survey link's token")
    customer: CustomerRef | None = None
    survey: OneLine | None = Field(None, max_length=64)
    score: int = Field(ge=0, le=10, strict=True)
    comment: FreeText | None = Field(None, max_length=5000)
    answered_at: Annotated[datetime, AfterValidator(aware)] | None = None

    @model_validator(mode="after")
    def _one_way_to_name_it(self) -> ResponseIn:
        by_token = self.invitation is not None
        by_customer = self.customer is not None or self.survey is not None
        if by_token == by_customer:
            raise ValueError(
                'give either "invitation" (a survey token) or "customer" and "survey", not both'
            )
        if by_customer and (self.customer is None or self.survey is None):
            raise ValueError('"customer" and "survey" go together')
        return self


def _problem(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={
            "error": "invalid request" if status == 422 else "not recorded",
            "detail": f"{field}: {message}",
            "problems": [{"field": field, "message": message}],
        },
    )


@admin.post(
    "/v1/responses",
    status_code=202,
    responses={
        409: {"model": Invalid, "description": "the survey closed"},
        **INVALID,
        **BODY,
    },
)
async def post_response(body: ResponseIn, request: Request) -> JSONResponse:
    """Record a response from elsewhere, with the same effects as an answer on the survey page."""
    svc = services(request)
    now = svc.clock.now()
    if body.answered_at is not None and (problem := when_problem(body.answered_at, now)):
        return _problem(422, "answered_at", problem)
    if body.id is not None and (known := await svc.store.response_by_external_id(body.id)):
        return JSONResponse(
            status_code=202,
            content={"response": known, "status": "recorded"},
            headers={"Idempotent-Replayed": "true"},
        )
    if body.invitation is not None:
        parsed = read_survey_token(svc.signer, body.invitation)
        invitation = await svc.store.invitation_by_public_id(parsed[0]) if parsed else None
        if invitation is None:
            return _problem(422, "invitation", "not a valid survey token")
    else:
        assert body.customer is not None and body.survey is not None
        if body.survey not in svc.config.surveys:
            known_surveys = ", ".join(sorted(svc.config.surveys))
            return _problem(
                422, "survey", f"unknown survey {body.survey!r} (known: {known_surveys})"
            )
        customer = await svc.store.ensure_customer(body.customer.email, now)
        invitation = await svc.store.open_invitation(customer.id, body.survey, now)
        if invitation is None:
            saved = await record(
                svc,
                Answer(
                    customer_id=customer.id,
                    survey=body.survey,
                    score=body.score,
                    segment=segment(body.score).value,
                    comment=body.comment,
                    source="webhook",
                    answered_at=body.answered_at or now,
                    external_id=body.id,
                ),
            )
            return _recorded(saved, body.score)
    outcome = await answer_invitation(
        svc,
        invitation,
        body.score,
        body.comment,
        source="webhook",
        answered_at=body.answered_at,
        external_id=body.id,
    )
    if isinstance(outcome, Closed):
        return _problem(409, "invitation", f"the survey closed on {outcome.expired_at:%Y-%m-%d}")
    return _recorded(outcome, body.score)


def _recorded(saved: Saved, score: int) -> JSONResponse:
    return JSONResponse(
        status_code=202,
        content={
            "response": saved.response_id,
            "status": "recorded" if saved.new else "updated",
            "segment": segment(score).value,
        },
    )


Mailbox = Annotated[str, AfterValidator(mailbox)]


class InboundIn(BaseModel):
    """A reply to a Vouch email, as a mail provider's inbound webhook delivers it.

    `raw` is the whole message as received (headers and body), as a string: plain text by
    default, or base64 with `"raw_encoding": "base64"` (for 8-bit messages). With `raw`, a
    bounce or complaint report (DSN, ARF) in it is acted on, and `from`, `text` and the rest
    may be left out: they are read from the message (a field that is given wins)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_: Mailbox | None = Field(None, alias="from", description="addr or Name <addr>")
    to: list[OneLine] | OneLine = Field(default_factory=list)
    subject: FreeText | None = Field(None, max_length=1000)  # folded headers keep their tabs
    text: FreeText | None = Field(None, max_length=200_000)
    in_reply_to: OneLine | None = Field(None, max_length=1000)
    references: list[OneLine] = Field(default_factory=list, max_length=100)
    message_id: OneLine | None = Field(None, max_length=1000)
    raw: str | None = Field(None, max_length=20_000_000)
    raw_encoding: Literal["plain", "base64"] = "plain"

    @model_validator(mode="after")
    def _from_and_text_or_raw(self) -> InboundIn:
        if self.raw is None and (self.from_ is None or self.text is None):
            raise ValueError('"from" and "text" are required unless "raw" holds the message')
        try:
            self.raw_bytes()
        except binascii.Error as error:
            raise ValueError(f'"raw" is not base64 ({error})') from None
        return self

    def raw_bytes(self) -> bytes:
        if self.raw is None:
            return b""
        if self.raw_encoding == "plain":
            return self.raw.encode("utf-8", "surrogateescape")
        return base64.b64decode(self.raw)


@admin.post("/v1/inbound", status_code=202, responses={**INVALID, **BODY})
async def post_inbound(body: InboundIn, request: Request) -> dict[str, str]:
    """Take a reply: a score, praise (a referral moment), an unsubscribe, or a note kept for
    the owner; or a bounce or spam complaint in `raw`. The answer says which and why."""
    raw = body.raw_bytes()
    parsed = parse_inbound(raw) if raw else None
    to = [body.to] if isinstance(body.to, str) else list(body.to)
    mail = InboundMail(
        from_addr=body.from_ or (parsed.from_addr if parsed else ""),
        to_addrs=to or (parsed.to_addrs if parsed else []),
        subject=body.subject if body.subject is not None else parsed.subject if parsed else "",
        text=body.text if body.text is not None else parsed.text if parsed else "",
        in_reply_to=body.in_reply_to or (parsed.in_reply_to if parsed else None),
        references=list(body.references) or (parsed.references if parsed else []),
        message_id=body.message_id or (parsed.message_id if parsed else None),
        raw=raw,
    )
    verdict = await inbound.handle(services(request), mail)
    return {"verdict": verdict.verdict, "explanation": verdict.explanation}


@admin.get("/v1/customers/{email}", responses={**NOT_FOUND, **INVALID})
async def get_customer(email: str, request: Request) -> JSONResponse:
    """One customer's story: their life-cycle stage and the road there, events, surveys (and
    why any was skipped), answers, complaints, referral asks (and why not), referrals, replies
    (and how they were read), emails."""
    store: GetCustomerStore = services(request).store
    customer = await store.customer_by_email(email)
    if customer is None:
        return JSONResponse(status_code=404, content={"error": f"no customer {email!r}"})
    suppressed = await store.suppression_reason(customer.email)
    _, set_aside = await store.set_aside_items(SET_ASIDE_SHOWN, customer.id)
    return JSONResponse(
        content={
            "email": customer.email,
            "name": customer.name,
            "external_id": customer.external_id,
            "timezone": customer.timezone,
            "locale": customer.locale,
            "tags": list(customer.tags),
            "suppressed": suppressed,
            **await stages.customer_view(store, customer.id),  # stage and road
            **await store.customer_overview(customer.id),
            "set_aside": [  # work for them that failed and was set aside, with why
                {"kind": s.kind, "item": s.item, "error": s.error, "at": s.at.isoformat()}
                for s in set_aside
            ],
        }
    )
