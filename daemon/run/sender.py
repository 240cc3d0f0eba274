"""The outbox worker: claims due rows, hands them to the transport, records each outcome.

Webhook rows (kind `webhook`) go to the HTTP transport instead, with their own concurrency;
suppressions never apply to them and a permanent refusal suppresses nothing.

Survey and reminder rows are queued unrendered; the sender has them rendered when it claims them
(`render`, surveys/survey_email.py) and stores the bytes before sending, so a retry or a restart
sends those same bytes. A row that cannot be rendered is kept and retried like a failed send.

Invariants (see DESIGN.md, "Known pitfalls"):
- a row is marked sent only after the transport confirmed it (SMTP 250 to DATA);
- rows are claimed as leases; a crashed sender's rows come back when its lease ends, or at once
  when the same instance restarts; nothing is ever dropped;
- at most `max_in_flight` rows are leased at a time, counting sent-but-not-yet-recorded ones, so a
  crash can double at most that many messages;
- outcomes are recorded in batches (one transaction for everything that finished meanwhile);
- only a refusal about the recipient suppresses it. A relay that refuses us (our login, our
  sender, or the same refusal for several recipients in a row: daemon/engine/refusals.py)
  pauses sending instead: the emails stay queued with their tries intact, the pause is kept in
  the store (`Store.sending_pause`, seen by /healthz, the dashboard and `vouch resume`), and a
  probe (one email, after a wait that grows) or the owner resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from daemon.clock import Clock
from daemon.config import Sender as SenderSettings
from daemon.engine import refusals
from daemon.engine.refusals import About, Refusal, Seen, Streak
from daemon.errors import PermanentDeliveryError, TemporaryDeliveryError
from daemon.mail.outbox import WEBHOOK, Cancel, OutboxRow, Outcome, Pause, RetryPolicy, Settlement
from daemon.requests_first import Pressure
from daemon.run.health import Health
from daemon.run.metrics import Metrics
from daemon.store.outbox import Outbox
from daemon.transport import Transport

log = logging.getLogger(__name__)

#: Renders claimed rows that were queued unrendered: each one's message by row id, why it
#: could not be rendered, or that it is no longer to be sent.
Render = Callable[[Sequence[OutboxRow]], Awaitable[Mapping[int, bytes | str | Cancel]]]


@dataclass(frozen=True)
class Result:
    row: OutboxRow
    settlement: Settlement
    seen: Seen | None = None  # the relay took the email, or refused it for good


class Sender:
    def __init__(
        self,
        store: Outbox,
        transport: Transport,
        clock: Clock,
        settings: SenderSettings,
        metrics: Metrics,
        *,
        owner: str | None = None,
        rng: random.Random | None = None,
        webhooks: Transport | None = None,
        render: Render | None = None,
        pressure: Pressure | None = None,
        health: Health | None = None,
        ready: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """webhooks: the HTTP transport for webhook rows (daemon/transport/webhook.py);
        render: what renders unrendered rows (survey_email.render_claimed with the services);
        health: where its passes are counted (a pause is told through the store);
        ready: asked before each claim whether emails may be rendered now (Services.current:
        the owner's latest files in force); while it says no, nothing is claimed."""
        self.store = store
        self.health = health or Health()
        self.render = render
        self.ready = ready
        self.pressure = pressure or Pressure()
        self.transport = transport
        self.webhooks = webhooks
        self._hook_slots = asyncio.Semaphore(webhooks.concurrency if webhooks else 1)
        self.clock = clock
        self.settings = settings
        self.metrics = metrics
        self.owner = owner or settings.instance
        self.configure(settings)
        self._rng = rng or random.Random()
        self._inflight: set[asyncio.Task[Result]] = set()
        self._finished: list[Result] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(transport.concurrency)
        self._streak = Streak()
        self._pause: Pause | None = None  # as last read from the store, or written to it
        self._probe: int | None = None  # the email tried to see whether the relay works again
        self._held = False  # `ready` said no at the latest claim

    @property
    def paused(self) -> str | None:
        """Why sending is paused (the relay's reply), or None, as this sender last saw it; the
        store's `sending_pause()` is what every process shares."""
        return self._pause.reason if self._pause is not None else None

    # control ------------------------------------------------------------------------------

    def configure(self, settings: SenderSettings) -> None:
        """Take new limits (config reload); the lease owner name stays what it was."""
        self.settings = settings
        self.policy = RetryPolicy(
            settings.max_attempts, settings.backoff_base_seconds, settings.backoff_max_seconds
        )

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; `run` then finishes in-flight sends and returns."""
        self._stopping.set()
        self._wake.set()

    async def use_transport(self, transport: Transport) -> None:
        """Switch transports (config reload); the old one closes after its in-flight sends.
        While sending is paused, the new settings are tried at once (a probe is due now)."""
        old, self.transport = self.transport, transport
        self._slots = asyncio.Semaphore(transport.concurrency)
        if (pause := await self._look()) is not None:
            now = self.clock.now()
            self._pause = replace(pause, probe_at=now)
            await self.store.pause_sending(self._pause, (), now)
            self.wake()
        if old is not transport:
            await old.aclose()

    # loops --------------------------------------------------------------------------------

    async def run(self, grace_seconds: float = 30.0) -> None:
        """Send until stopped. Leases this instance held before a crash come back first."""
        released = await self.store.release_leases(self.owner, self.clock.now())
        if released:
            log.warning("returned %d emails claimed before a restart to the queue", released)
        self.health.watch("sender", self.clock.now())
        try:
            while not self._stopping.is_set():
                try:
                    if not await self._step():
                        await self._idle()
                except Exception as exc:  # the store failing, a bug: never stop the loop
                    log.exception("sender: a pass failed (tried again after a poll)")
                    self.health.failed("sender", f"{type(exc).__name__}: {exc}")
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.settings.poll_seconds):
                            await self._stopping.wait()
                else:
                    self.health.passed("sender", self.clock.now())
        finally:
            await self._shutdown(grace_seconds)

    async def drain(self) -> int:
        """Send everything due now and return how many rows were settled (tests, CLI)."""
        settled = 0
        while True:
            settled += await self._flush()
            claimed = await self._claim()
            if not claimed and not self._inflight:
                settled += await self._flush()
                return settled
            if self._inflight:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                self._collect()

    async def send_now(self, row_ids: list[int]) -> int:
        """Claim and send exactly these rows if they are due (vouch send-test)."""
        rows = await self.store.claim(
            self.owner, self.clock.now(), self.settings.lease_seconds, len(row_ids), row_ids
        )
        await self._start(rows)
        while self._inflight:
            await asyncio.wait(self._inflight)
            self._collect()
        return await self._flush()

    # steps --------------------------------------------------------------------------------

    async def _step(self) -> bool:
        """Record what finished and claim into free slots once a quarter of them are free (a
        claim, its rendering and its settlement are a few queries whatever their size: so
        they come in batches, not one row each), then wait for a send to finish."""
        self._wake.clear()  # before looking, so a wake during the look is not lost
        progressed = False
        if len(self._inflight) <= self.settings.max_in_flight * 3 // 4:
            await self.pressure.lull()  # requests being served go first
            progressed = await self._flush() > 0
            progressed = await self._claim() > 0 or progressed
        if self._inflight:
            await asyncio.wait(
                self._inflight,
                timeout=self.settings.poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            self._collect()
            return True
        return progressed

    async def _idle(self) -> None:
        """Sleep until woken, the next row falls due, or the poll interval passes (while paused,
        emails are due but not sent: look again at each poll, for a probe or a resume; and so
        while `ready` says no)."""
        timeout = self.settings.poll_seconds
        waiting = self._pause is not None or self._held
        next_due = None if waiting else await self.store.next_due()
        if next_due is not None:
            timeout = max(0.0, min(timeout, (next_due - self.clock.now()).total_seconds()))
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _claim(self) -> int:
        """Claim due rows into free slots; while paused, webhook rows only, and one email when
        a probe is due."""
        free = self.settings.max_in_flight - len(self._inflight) - len(self._finished)
        if free <= 0 or self._stopping.is_set():
            return 0
        now, lease = self.clock.now(), self.settings.lease_seconds
        pause = await self._look()
        self._held = self.ready is not None and not await self.ready()
        if self._held:  # said at each poll, at debug level: the pause itself is said once
            sending = "none" if pause is None else pause.reason
            log.debug("sender: poll skipped, rendering paused (sending pause: %s)", sending)
            return 0
        if pause is None:
            rows = await self.store.claim(self.owner, now, lease, free)
        else:
            rows = await self.store.claim(self.owner, now, lease, free, webhooks=True)
            if now >= pause.probe_at and len(rows) < free:
                rows += await self._claim_probe(pause, now)
        await self._start(rows)
        return len(rows)

    async def _look(self) -> Pause | None:
        """The pause in force, read from the store: the owner may have resumed from another
        process (`vouch resume`) or the dashboard."""
        pause = await self.store.sending_pause()
        if pause is None and self._pause is not None:
            log.warning("sending resumed (the pause was lifted)")
            self._streak = Streak()
        self._pause = pause
        return pause

    async def _claim_probe(self, pause: Pause, now: datetime) -> list[OutboxRow]:
        """One email, to see whether the relay takes mail again; the next probe, should it be
        refused too, waits longer."""
        rows = await self.store.claim(
            self.owner, now, self.settings.lease_seconds, 1, webhooks=False
        )
        if rows:
            wait = refusals.probe_wait(
                pause.wait_seconds, self.settings.probe_seconds, self.settings.backoff_max_seconds
            )
            self._pause = replace(pause, probe_at=now + timedelta(seconds=wait), wait_seconds=wait)
            await self.store.pause_sending(self._pause, (), now)
            self._probe = rows[0].id
            log.info("sending is paused: trying email %d to see if the relay takes it", rows[0].id)
        return rows

    async def _start(self, rows: list[OutboxRow]) -> None:
        """The claim's one suppression check (none for webhook rows): rows to a suppressed
        address are settled unsent and unrendered; the rest are rendered if need be and sent."""
        if not rows:
            return
        blocked = await self.store.suppressed(r.recipient for r in rows if r.kind != WEBHOOK)
        ready = []
        for row in rows:
            if row.kind != WEBHOOK and row.recipient.lower() in blocked:
                settlement = Settlement(row.id, Outcome.SUPPRESSED, "address is suppressed")
                self._finished.append(Result(row, settlement))
            else:
                ready.append(row)
        for row in await self._rendered(ready):
            task = asyncio.create_task(self._deliver(row))
            self._inflight.add(task)

    async def _rendered(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The rows with their messages: unrendered ones rendered and stored first (one
        transaction). One that could not be rendered is settled as a retry, one no longer
        wanted as cancelled; one no longer ours to send (forgotten meanwhile, or its lease
        lost) is left as the store has it."""
        unrendered = [row for row in rows if row.unrendered]
        if not unrendered:
            return rows
        try:
            if self.render is None:
                raise RuntimeError("this sender cannot render survey emails")
            made = await self.render(unrendered)
        except Exception as exc:  # the whole claim failed to render (a store fault, a bug)
            log.exception("could not render %d emails", len(unrendered))
            made = {row.id: f"{type(exc).__name__}: {exc}" for row in unrendered}
        messages = {i: m for i, m in made.items() if isinstance(m, bytes)}
        saved = await self.store.save_rendered(self.owner, messages, self.clock.now())
        ready = []
        for row in rows:
            if not row.unrendered:
                ready.append(row)
            elif row.id in saved:
                ready.append(replace(row, message=messages[row.id]))
            elif row.id in messages:
                log.info("email %d changed while it was rendered (forgotten?): not sent", row.id)
            elif isinstance(cancel := made.get(row.id), Cancel):
                log.info("email %d not sent: %s", row.id, cancel.reason)
                settlement = Settlement(row.id, Outcome.CANCELLED, cancel.reason)
                self._finished.append(Result(row, settlement))
            else:
                reason = made.get(row.id)
                why = reason if isinstance(reason, str) else "the renderer returned nothing"
                self._finished.append(Result(row, self._retry(row, f"could not render: {why}")))
        return ready

    def _collect(self) -> None:
        done = {task for task in self._inflight if task.done()}
        self._inflight -= done
        self._finished.extend(task.result() for task in done)

    async def _flush(self) -> int:
        """Record what finished, in one batch, after the engine's judgement of the relay's
        answers (daemon/engine/refusals.py), then pause or resume sending as it says."""
        if not self._finished:
            return 0
        batch, self._finished = self._finished, []
        now = self.clock.now()
        paused = self._pause is not None
        streak = self._streak
        pause: Refusal | None = None
        resumed = False
        refund: list[int] = []
        settlements = []
        for result in batch:
            settlement = result.settlement
            if result.seen is not None:
                verdict = refusals.judge(
                    streak,
                    result.seen,
                    paused=paused,
                    probe=result.row.id == self._probe,
                    threshold=self.settings.pause_after_refusals,
                )
                streak = verdict.streak
                if verdict.hold:  # queued again, due at once, the try not counted
                    settlement = Settlement(result.row.id, Outcome.HELD, settlement.error)
                if verdict.pause is not None and not paused:
                    paused, pause, resumed = True, verdict.pause, False
                    refund += verdict.refund
                if verdict.resume:
                    paused, pause, resumed = False, None, True
            settlements.append(settlement)
        try:
            await self.store.settle(settlements, now)
        except BaseException:
            self._finished = batch + self._finished  # judged and recorded on a later flush
            raise
        self._streak = streak
        for settlement in settlements:
            self.metrics.sends.labels(settlement.outcome.value).inc()
        if pause is not None:
            await self._pause_sending(pause, refund, now)
        elif resumed:
            await self._resume_sending()
        return len(batch)

    async def _pause_sending(self, refusal: Refusal, refund: list[int], now: datetime) -> None:
        wait = self.settings.probe_seconds
        self._pause = Pause(refusal.summary, now, now + timedelta(seconds=wait), wait)
        await self.store.pause_sending(self._pause, refund, now)
        log.error(
            "sending paused: the relay refuses us, not the customers: %s. Nobody is suppressed "
            "and the emails stay queued; one is tried again at %s, or resume with `vouch "
            "resume` or the dashboard once the relay or the config is fixed",
            self._pause.reason,
            self._pause.probe_at.isoformat(timespec="seconds"),
        )

    async def _resume_sending(self) -> None:
        self._pause, self._probe = None, None
        if (was := await self.store.resume_sending()) is not None:
            log.warning("sending resumed: the relay took an email again (%s)", was.reason)

    async def _deliver(self, row: OutboxRow) -> Result:
        webhook = row.kind == WEBHOOK
        async with self._hook_slots if webhook else self._slots:
            await self.pressure.lull()  # requests being served go first
            transport = self.webhooks if webhook else self.transport
            started = self.clock.monotonic()
            seen: Seen | None = None
            try:
                if transport is None:
                    raise TemporaryDeliveryError("this sender has no webhook transport")
                await transport.send(
                    row.envelope_from, row.recipient, row.message, key=row.message_id
                )
            except PermanentDeliveryError as exc:
                if webhook:  # a URL is not an address: nothing to suppress
                    log.warning("webhook %d to %s refused: %s", row.id, row.recipient, exc)
                    outcome = Settlement(row.id, Outcome.FAILED, str(exc))
                else:
                    outcome, seen = self._refused(row, exc)
            except TemporaryDeliveryError as exc:
                outcome = self._retry(row, str(exc))
            except Exception as exc:  # a bug or an unforeseen fault: keep the row, try later
                log.exception("email %d: unexpected error while sending", row.id)
                outcome = self._retry(row, f"unexpected error: {exc!r}")
            else:
                outcome = Settlement(row.id, Outcome.SENT)
                seen = None if webhook else Seen(row.id, row.recipient)
            finally:
                self.metrics.send_seconds.observe(self.clock.monotonic() - started)
        return Result(row, outcome, seen)

    def _refused(
        self, row: OutboxRow, exc: PermanentDeliveryError
    ) -> tuple[Settlement, Seen | None]:
        """An email refused for good: the recipient is suppressed only when the refusal is
        about them (or the transport refused the address itself, with no relay asked);
        otherwise it is tried again as after a temporary failure, and `_flush` may hold it
        and pause sending."""
        refusal = exc.refusal
        if refusal is None:
            log.warning("email %d to %s refused: %s", row.id, row.recipient, exc)
            return Settlement(row.id, Outcome.FAILED, str(exc), suppress=row.recipient), None
        seen = Seen(row.id, row.recipient, refusal)
        if refusals.about(refusal) is About.RECIPIENT:
            log.warning("email %d to %s refused: %s", row.id, row.recipient, exc)
            return Settlement(row.id, Outcome.FAILED, str(exc), suppress=row.recipient), seen
        log.warning(
            "email %d to %s refused, not for the recipient's sake (nobody is suppressed): %s",
            row.id,
            row.recipient,
            exc,
        )
        return self._retry(row, str(exc)), seen

    def _retry(self, row: OutboxRow, error: str) -> Settlement:
        attempts = row.attempts + 1
        retry_at = self.policy.next_try(attempts, self.clock.now(), self._rng)
        if retry_at is None:
            log.warning(
                "email %d to %s: gave up after %d attempts", row.id, row.recipient, attempts
            )
            return Settlement(row.id, Outcome.FAILED, f"gave up after {attempts} attempts: {error}")
        return Settlement(row.id, Outcome.RETRY, error, retry_at=retry_at)

    async def _shutdown(self, grace_seconds: float) -> None:
        """Let in-flight sends finish (up to the grace period), record them, release the rest."""
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._inflight -= pending
            self._collect()
        await self._flush()
        released = await self.store.release_leases(self.owner, self.clock.now())
        if released:
            log.info("returned %d unsent emails to the queue", released)
