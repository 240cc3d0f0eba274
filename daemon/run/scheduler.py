"""The scheduler: turns what the store says is due into emails in the outbox.

Each sweep is a small indexed query for due rows, then idempotent work: every email it
enqueues has a dedupe key, and the row is marked done only after the enqueue, so a crash in
between repeats the sweep without doubling anything.

One bad row never stops the scheduler: each sweep of a tick runs on its own (one that fails
is logged and tried again next tick), and within a sweep an item that fails is set aside with
its error (daemon/run/isolation.py) while the others go on. A tick that completes every sweep is a
pass, which /healthz watches (daemon/run/health.py).

However many processes share the store, one plans at a time: it holds the store's "scheduler"
lease (daemon/store/leases.py), renewed before every tick; the others stand by and take it over
within `sender.planner_lease_seconds` of the holder dying (at once when it stops cleanly). Should
a tick outlast the lease and another process plan meanwhile, the dedupe keys still send nothing
twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol
from zoneinfo import ZoneInfo

from daemon.engine import dashboard_links
from daemon.engine.asks import Moment
from daemon.engine.clicks import judge
from daemon.engine.invitations import History, Plan, plan_invitation, reminder_at
from daemon.engine.lifecycle import EVENT_STAGES
from daemon.engine.window import in_window, next_in_window
from daemon.mail.compose import build_email, enqueue, queue_for_customer
from daemon.mail.outbox import NewEmail
from daemon.owner import digest, stages, webhooks
from daemon.partners import roster
from daemon.referrals import attribution, follow_up, review_asks
from daemon.run import isolation
from daemon.run.services import Services
from daemon.store.answers import Answers
from daemon.store.customers import Customers
from daemon.store.invitations import Invitations
from daemon.store.lifecycle import Lifecycle
from daemon.store.outbox import Outbox
from daemon.store.referrals import Referrals
from daemon.store.rows import (
    ComplaintAlert,
    Customer,
    Invitation,
    NewInvitation,
    NewTestimonial,
    StoredEvent,
)
from daemon.surveys import survey_email
from daemon.surveys.answers import answer_invitation

log = logging.getLogger(__name__)

BATCH = 500
LEASE = "scheduler"
SURVEY_BATCH = 2000  # due surveys (and reminders) a tick queues: cheap, they are not rendered
STAGE_BACKFILL = 1000  # customers a tick whose life-cycle stage an upgrade left to work out


class AnswersAndCustomers(Answers, Customers, Protocol):
    """The store as `_alert` uses it."""


class AnswersAndInvitations(Answers, Invitations, Protocol):
    """The store as `confirm_clicks` uses it."""


class CustomersAndInvitationsAndOutbox(Customers, Invitations, Outbox, Protocol):
    """The store as `_ready` uses it."""


class PlanEventsStore(Customers, Invitations, Lifecycle, Outbox, Protocol):
    """The store as `_plan_events` uses it."""


class Scheduler:
    def __init__(
        self,
        services: Services,
        on_enqueued: Callable[[], None] | None = None,
        *,
        holder: str = "default",
    ) -> None:
        """holder: this process's name on the scheduler lease (unique among the processes)."""
        self.services = services
        self.holder = holder
        self.leading = False
        self._on_enqueued = on_enqueued
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self, poll_seconds: float = 1.0, gather_seconds: float = 0.25) -> None:
        """Tick when woken or every poll; a woken tick waits `gather_seconds` first, so a burst
        of events is planned in one batch rather than one tick each."""
        self.services.health.watch("scheduler", self.services.clock.now())
        try:
            await self._loop(poll_seconds, gather_seconds)
        finally:
            if self.leading:  # a clean stop: another process plans at once
                with contextlib.suppress(Exception):
                    await self.services.store.release(LEASE, self.holder)
                self.leading = False

    async def _loop(self, poll_seconds: float, gather_seconds: float) -> None:
        while not self._stopping.is_set():
            if self._wake.is_set():
                await asyncio.sleep(gather_seconds)
            self._wake.clear()
            try:
                handled = await self.tick() if await self.lead() else 0
                if handled and self._on_enqueued:
                    self._on_enqueued()
            except Exception:  # a bug outside the sweeps: log it, try next tick
                log.exception("scheduler tick failed")
                handled = 0
            if handled >= BATCH:  # a full batch: more is likely due, go on at once
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_seconds):
                    await self._wake.wait()

    async def lead(self) -> bool:
        """Whether this process plans now: it holds the scheduler lease (taken or renewed
        here). Standing by is healthy; a store that cannot say counts as not leading."""
        services = self.services
        now, seconds = services.clock.now(), services.config.settings.sender.planner_lease_seconds
        try:
            held = await services.store.hold(LEASE, self.holder, now, seconds)
        except Exception as exc:
            log.warning("scheduler: cannot take or renew its lease: %s", exc)
            services.health.failed("scheduler", f"lease: {type(exc).__name__}: {exc}")
            held = False
        else:
            if not held:
                services.health.passed("scheduler", now)
        if held != self.leading:
            log.info(
                "scheduler: %s plans now (it holds the lease)"
                if held
                else "scheduler: %s stands by (another process plans)",
                self.holder,
            )
            self.leading = held
        return held

    async def tick(self) -> int:
        """Do everything due now; returns how many items were handled. Each sweep on its own:
        one that fails (the store unavailable, a bug) does not keep the others from running."""
        services = self.services
        await services.pressure.lull()  # requests being served go first
        if not await services.current():  # the owner's latest files cannot be loaded
            services.health.failed("scheduler", "paused: the owner's files cannot be loaded")
            log.debug("scheduler: tick skipped, rendering paused")
            return 0
        sweeps: list[tuple[str, Callable[[], Awaitable[int]]]] = [
            ("events", self.plan_events),
            ("surveys", self.send_invitations),
            ("reminders", self.send_reminders),
            ("clicks", self.confirm_clicks),
            ("complaint alerts", self.alert_complaints),
            *((name, partial(sweep, services)) for name, sweep in follow_up.SWEEPS.items()),
            *((name, partial(sweep, services)) for name, sweep in review_asks.SWEEPS.items()),
            ("stages", lambda: stages.refresh_pending(services.store, STAGE_BACKFILL)),
            ("webhooks", lambda: webhooks.sweep(services)),
            ("digest", lambda: digest.sweep(services)),
        ]
        done, failed = 0, []
        for name, sweep in sweeps:
            try:
                done += await sweep()
            except Exception as exc:
                log.exception("scheduler: the %s sweep failed (tried again next tick)", name)
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
        if failed:
            services.health.failed("scheduler", "; ".join(failed))
        else:
            services.health.passed("scheduler", services.clock.now())
        return done

    # events → invitations -------------------------------------------------------------------

    async def plan_events(self) -> int:
        """Plan what new events call for, a batch at a time in a fixed number of queries; an
        event that cannot be planned is set aside, the others are planned."""
        store: Invitations = self.services.store
        events = await store.unprocessed_events(BATCH)
        await isolation.batch(
            self.services,
            "event",
            events,
            self._plan_events,
            key=lambda e: e.seq,
            customer=lambda e: e.customer_id,
        )
        return len(events)

    async def _plan_events(self, events: list[StoredEvent]) -> None:
        services = self.services
        store: PlanEventsStore = services.store
        await stages.refresh(  # before the moments below: follow_up.min_stage reads it
            store,
            (e.customer_id for e in events if e.customer_id and e.type in EVENT_STAGES),
        )
        customers = await store.customers(e.customer_id for e in events if e.customer_id)
        suppressed = await store.suppression_reasons(c.email for c in customers.values())
        last = await store.last_surveyed(list(customers))
        decided: list[tuple[int, int | None, Sequence[NewInvitation]]] = []
        for stored in events:
            customer = customers.get(stored.customer_id or 0)
            if stored.type == "complaint.resolved":
                await self._resolve(stored)
            await self._referral_moment(stored, customer)
            plans = self._plans(stored, customer, suppressed, last)
            decided.append((stored.seq, stored.customer_id, plans))
        await store.settle_events(decided, services.clock.now())

    def _plans(
        self,
        stored: StoredEvent,
        customer: Customer | None,
        suppressed: dict[str, str],
        last: dict[int, datetime],
    ) -> list[NewInvitation]:
        services = self.services
        surveys = [s for s in services.config.surveys.values() if s.trigger == stored.type]
        if not surveys or customer is None:
            return []
        plans = []
        for survey in surveys:
            history = History(suppressed.get(customer.email), last.get(customer.id))
            decided = plan_invitation(
                survey,
                stored.occurred_at,
                self._zone(customer),
                services.config.settings.send_window.window(),
                history,
                services.clock.now(),
                any_age=stored.data.get("survey_history") is True,  # vouch import --survey-history
            )
            if isinstance(decided, Plan):
                plans.append(NewInvitation(survey.id, decided.due_at, decided.expires_at))
                last[customer.id] = decided.due_at  # the next event in this batch sees it
            else:
                log.debug("no %s survey for %d: %s", survey.id, customer.id, decided.reason)
                plans.append(NewInvitation(survey.id, None, None, reason=decided.reason))
        return plans

    async def _referral_moment(self, stored: StoredEvent, customer: Customer | None) -> None:
        """Events that are referral moments, or move a referral on."""
        services = self.services
        if stored.type == "referral.status_changed":
            await self._status_event(stored)
        if stored.type == "partner.joined_organization":
            await roster.joined(services, stored)
        if customer is None:
            return
        await attribution.credit(services, stored, customer)  # a referred friend's purchase
        if stored.type == "project.completed":
            await follow_up.consider(
                services,
                customer,
                Moment.PROJECT_COMPLETED,
                f"event:{stored.id}",
                occurred_at=stored.occurred_at,
            )
        elif stored.type == "testimonial.received":
            text = str(stored.data.get("text") or "").strip()
            solicited = stored.data.get("solicited") is not False  # only explicit praise asks
            if text:
                await services.store.add_testimonial(
                    NewTestimonial(
                        customer.id,
                        text,
                        str(stored.data.get("source") or "event"),
                        solicited,
                        f"event:{stored.id}",
                        stored.occurred_at,
                    )
                )
            if not solicited:  # praise nobody asked for: the moment to ask
                await follow_up.consider(
                    services, customer, Moment.TESTIMONIAL, f"event:{stored.id}"
                )

    async def _status_event(self, stored: StoredEvent) -> None:
        store: Referrals = self.services.store
        data = stored.data
        referral = await store.referral(str(data.get("referral") or ""))
        if referral is None:
            log.warning("event %s: no referral %r", stored.id, data.get("referral"))
            return
        value = data.get("value")
        share = data.get("share")
        try:
            await follow_up.change_status(
                self.services,
                referral,
                str(data.get("status") or ""),
                value=float(value) if isinstance(value, int | float) else None,
                note=str(data["note"]) if data.get("note") else None,
                share=share if isinstance(share, bool) else None,
            )
        except follow_up.ReferralError as exc:
            log.warning("event %s: %s", stored.id, exc)

    async def _resolve(self, stored: StoredEvent) -> None:
        """complaint.resolved: data.complaint_id closes that one; else all of the customer's."""
        store: Answers = self.services.store
        data = stored.data
        complaint_id = data.get("complaint_id")
        note = str(data.get("note") or "resolved (event)")
        closed = (
            await store.resolve_complaints(
                customer_id=stored.customer_id,
                complaint_id=complaint_id if isinstance(complaint_id, int) else None,
                note=note,
                now=self.services.clock.now(),
            )
            if (stored.customer_id is not None or isinstance(complaint_id, int))
            else 0
        )
        log.info("event %s resolved %d complaint(s)", stored.id, closed)

    # invitations and reminders --------------------------------------------------------------

    async def send_invitations(self) -> int:
        """Due surveys, a batch at a time: a few set-based queries, then rows queued unrendered
        (the sender renders each when it claims it: daemon/surveys/survey_email.py). One that cannot
        be queued is set aside."""
        services = self.services
        due = await services.store.due_invitations(services.clock.now(), SURVEY_BATCH)
        await isolation.batch(
            services, "survey", due, self._send_invitations, _invitation_id, _customer_of
        )
        return len(due)

    async def _send_invitations(self, due: list[Invitation]) -> None:
        services = self.services
        store: Invitations = services.store
        now = services.clock.now()
        ready = await self._ready(due, reminder=False)
        emails: list[NewEmail] = []
        sent = []
        window = services.config.settings.send_window.window()
        for invitation, customer in ready:
            survey = services.config.surveys[invitation.survey]
            emails.append(survey_email.queued(services, "survey", invitation, customer))
            later = reminder_at(survey, now, self._zone(customer), window)
            sent.append((invitation.id, now, later))
            await self._flush(emails)
        await self._flush(emails, every=1)  # before marking: a crash repeats, dedupe holds
        await store.invitations_sent(sent)

    async def send_reminders(self) -> int:
        services = self.services
        due = await services.store.due_reminders(services.clock.now(), SURVEY_BATCH)
        await isolation.batch(
            services, "reminder", due, self._send_reminders, _invitation_id, _customer_of
        )
        return len(due)

    async def _send_reminders(self, due: list[Invitation]) -> None:
        services = self.services
        store: Invitations = services.store
        now = services.clock.now()
        lapsed = [i for i in due if i.expires_at is not None and now >= i.expires_at]
        await store.invitations_reminded([i.id for i in lapsed], now)  # too late: none at all
        ready = await self._ready([i for i in due if i not in lapsed], reminder=True)
        emails: list[NewEmail] = []
        for invitation, customer in ready:
            emails.append(survey_email.queued(services, "reminder", invitation, customer))
            await self._flush(emails)
        await self._flush(emails, every=1)
        await store.invitations_reminded([invitation.id for invitation, _ in ready], now)

    async def _flush(self, emails: list[NewEmail], every: int = 500) -> None:
        """Into the outbox `every` emails at a time (then the list is emptied): the rows are
        small (not yet rendered), and between two writes the web server's own go first
        (daemon/requests_first.py) and the sender can start on the first ones."""
        store: Outbox = self.services.store
        if len(emails) >= every:
            await store.enqueue_many(emails, self.services.clock.now())
            emails.clear()
            if self._on_enqueued:
                self._on_enqueued()

    async def _ready(
        self, due: list[Invitation], *, reminder: bool
    ) -> list[tuple[Invitation, Customer]]:
        """Those that may go now, with their customers; the rest are skipped or moved. The
        suppression decided here is passed on: the outbox queues the rows as they are, and the
        sender checks only once more, at claim (daemon/surveys/survey_email.py)."""
        services = self.services
        store: CustomersAndInvitationsAndOutbox = services.store
        now = services.clock.now()
        customers = await store.customers(i.customer_id for i in due)
        suppressed = await store.suppression_reasons(c.email for c in customers.values())
        window = services.config.settings.send_window.window()
        ready = []
        for invitation in due:
            customer = customers[invitation.customer_id]
            reason = suppressed.get(customer.email.lower())
            if invitation.survey not in services.config.surveys:
                await store.skip_invitation(
                    invitation.id, f"survey {invitation.survey!r} was removed"
                )
            elif reason:
                await store.skip_invitation(invitation.id, f"address is suppressed ({reason})")
            elif not in_window(now, self._zone(customer), window):  # e.g. after downtime
                later = next_in_window(now, self._zone(customer), window)
                await store.move_invitation(invitation.id, later, reminder=reminder)
            else:
                ready.append((invitation, customer))
        return ready

    # clicks → answers -------------------------------------------------------------------------

    async def confirm_clicks(self) -> int:
        services = self.services
        store: AnswersAndInvitations = services.store
        now = services.clock.now()
        window = timedelta(seconds=services.config.settings.answers.click_confirm_seconds)
        pending = await store.pending_clicks(BATCH)
        decided = 0

        async def confirm(invitation_id: int) -> None:
            nonlocal decided
            clicks = pending[invitation_id]
            verdict = judge(clicks, now, window)
            if verdict.scanner:
                log.info(
                    "invitation %d: %d clicks looked like a mail scanner's",
                    invitation_id,
                    len(verdict.scanner),
                )
            if verdict.confirm is not None:
                invitation = await store.invitation(invitation_id)
                assert invitation is not None
                await answer_invitation(
                    services,
                    invitation,
                    verdict.confirm.score,
                    None,
                    source="click",
                    answered_at=verdict.confirm.at,
                )
            await store.settle_clicks(verdict.scanner, verdict.settled)
            decided += len(verdict.settled)

        await isolation.each(
            services, "clicks", list(pending), confirm, key=lambda i: i, customer=lambda _: None
        )
        return decided

    # complaints → the owner -------------------------------------------------------------------

    async def alert_complaints(self) -> int:
        services = self.services
        store: Answers = services.store
        alerts = await store.unalerted_complaints(BATCH)
        await isolation.each(
            services,
            "complaint alert",
            alerts,
            self._alert,
            key=lambda a: a.complaint_id,
            customer=lambda a: a.customer.id,
        )
        return len(alerts)

    async def _alert(self, alert: ComplaintAlert) -> None:
        services = self.services
        store: AnswersAndCustomers = services.store
        history = await store.customer_history(alert.customer.id, 12)
        customer = alert.customer
        await enqueue(
            services,
            build_email(
                services,
                kind="owner_alert",
                context={
                    "customer": {"name": customer.name, "email": customer.email},
                    "score": alert.score,
                    "comment": alert.comment,
                    "survey": alert.survey,
                    "answered_at": alert.answered_at,
                    "history": [{"at": h.at, "what": h.what} for h in history],
                    "complaint_id": alert.complaint_id,
                    "link": dashboard_links.customer(services.url("/admin"), customer.public_id),
                    "resolve_command": f"vouch resolve {alert.complaint_id} --note '...'",
                },
                to_email=services.config.settings.business.owner_email,
                dedupe_key=f"owner-alert:{alert.complaint_id}",
                customer_id=customer.id,
            ),
        )
        if services.config.settings.recovery.we_hear_you:
            await queue_for_customer(
                services,
                customer,
                kind="we_hear_you",
                context={
                    "customer_name": survey_email.first_name(customer),
                },
                dedupe_key=f"we-hear-you:{alert.complaint_id}",
            )
        await store.complaint_alerted(alert.complaint_id)

    def _zone(self, customer: Customer) -> ZoneInfo:
        return ZoneInfo(customer.timezone or self.services.config.settings.business.timezone)


def _invitation_id(invitation: Invitation) -> int:
    return invitation.id


def _customer_of(invitation: Invitation) -> int:
    return invitation.customer_id
