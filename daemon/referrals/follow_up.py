"""The referral engine's shell: moments become asks, introductions become referrals, and every
step of the follow-up becomes the right email at the right time.

Decisions are pure (daemon/engine/asks.py, grades.py); this module records them and turns what
the store says is due into outbox rows. Each sweep is idempotent (dedupe keys, flags set after
the enqueue), so a crash in between repeats work without doubling an email.
"""

from __future__ import annotations

import logging
import mimetypes
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from daemon.engine import dashboard_links
from daemon.engine import reopen as reopen_rule
from daemon.engine.asks import Ask, AskHistory, Moment, NoAsk, Rules, Wait, decide
from daemon.engine.grades import Introduction, grade, self_referral
from daemon.engine.lifecycle import short_of
from daemon.engine.offers import issued
from daemon.engine.window import in_window, next_in_window
from daemon.mail.compose import build_email, enqueue, queue_for_customer
from daemon.mail.links import unsubscribe_headers, unsubscribe_url
from daemon.mail.render import Attachment, one_line
from daemon.owner import stages
from daemon.partners import notes
from daemon.referrals import ask_cap, friend_offers, offers
from daemon.run import isolation
from daemon.run.services import Services
from daemon.store.asks import Asks
from daemon.store.corrections import Corrections
from daemon.store.customers import Customers
from daemon.store.invitations import Invitations
from daemon.store.lifecycle import Lifecycle
from daemon.store.partners import Partners
from daemon.store.referrals import Referrals
from daemon.store.replies import Replies
from daemon.store.rewards import Rewards
from daemon.store.rows import (
    Advocate,
    AskRow,
    Customer,
    NewAsk,
    NewReferral,
    NewReward,
    Referral,
    ReferralMove,
    Reward,
    Step,
)

log = logging.getLogger(__name__)

BATCH = 200
STATUSES = ("new", "contacted", "meeting", "won", "lost")
_NEXT = {
    "new": {"contacted", "meeting", "won", "lost"},
    "contacted": {"meeting", "won", "lost"},
    "meeting": {"won", "lost"},
    "won": set(),
    "lost": set(),
}


class AsksAndCustomersAndReferrals(Asks, Customers, Referrals, Invitations, Protocol):
    """The store as `_send_ask` uses it."""


class CustomersAndPartnersAndReferrals(Customers, Partners, Referrals, Protocol):
    """The store as `notify_referrals` uses it."""


class CustomersAndReferrals(Customers, Referrals, Protocol):
    """The store as `notify_steps` uses it."""


class CustomersAndReferralsAndRewards(Customers, Referrals, Rewards, Protocol):
    """The store as `notify_rewards` uses it."""


class IntroduceStore(Customers, Lifecycle, Referrals, Replies, Protocol):
    """The store as `introduce` uses it."""


class RewardStore(Customers, Partners, Referrals, Rewards, Protocol):
    """The store as `_reward` uses it."""


def next_statuses(status: str) -> tuple[str, ...]:
    """Where a referral in `status` may move, in pipeline order (the dashboard's buttons)."""
    return tuple(s for s in STATUSES if s in _NEXT.get(status, set()))


class ReferralError(ValueError):
    """A status change that cannot be made, in words for the owner."""


def rules(services: Services) -> Rules:
    r = services.config.settings.referrals
    return Rules(
        cool_down=timedelta(days=r.cool_down_days),
        yearly_cap=r.yearly_cap,
        score_window=timedelta(days=r.score_window_days),
        delay=timedelta(days=r.ask_delay_days),
    )


def zone(services: Services, customer: Customer) -> ZoneInfo:
    return ZoneInfo(customer.timezone or services.config.settings.business.timezone)


def first_name(customer: Customer | None) -> str | None:
    return one_line(customer.name).split(" ")[0] if customer and customer.name else None


# moments → asks ---------------------------------------------------------------------------------


async def consider(
    services: Services,
    customer: Customer,
    moment: Moment,
    source: str,
    *,
    occurred_at: datetime | None = None,
) -> str:
    """Decide whether this moment leads to an ask; record the decision with its reason.

    occurred_at: when the moment happened, if not now; a moment older than its life (a past
    project reported late or imported) is history, not a moment to ask.
    """
    store: Asks = services.store
    now = services.clock.now()
    survey = services.config.surveys.get("project_completion")  # a moment lasts its survey's life
    life = timedelta(days=(survey.delay_days + survey.expiry_days) if survey else 31)
    decided: Ask | Wait | NoAsk
    if occurred_at is not None and occurred_at + life <= now:
        decided = NoAsk(f"the moment is past: it happened on {occurred_at:%Y-%m-%d}")
    else:
        suppressed, complaints, latest, asks = await store.ask_facts(customer.id)
        history = AskHistory(suppressed, complaints, latest, asks)
        decided = decide(moment, history, rules(services), now)
    if isinstance(decided, Ask):
        decided = await _below_min_stage(services, customer.id) or decided
    if isinstance(decided, Ask):
        due = next_in_window(decided.due_at, zone(services, customer), _window(services))
        await store.add_ask(NewAsk(customer.id, moment, source, "scheduled", due_at=due), now)
        return f"ask scheduled for {due:%Y-%m-%d %H:%M} UTC"
    if isinstance(decided, Wait):
        waiting = NewAsk(customer.id, moment, source, "waiting", decided.reason, None, now + life)
        await store.add_ask(waiting, now)
        return decided.reason
    assert isinstance(decided, NoAsk)
    await store.add_ask(NewAsk(customer.id, moment, source, "skipped", decided.reason), now)
    log.info("no referral ask for customer %d (%s): %s", customer.id, moment, decided.reason)
    return decided.reason


async def resolve_waiting(services: Services) -> int:
    """A carried moment: the customer answered since (promoter → ask) or the wait ran out."""
    store: ask_cap.AsksAndCustomers = services.store
    now = services.clock.now()
    waiting = await store.waiting_asks(now, BATCH)

    async def one(entry: tuple[AskRow, bool]) -> None:
        ask, lapsed = entry
        customer = await store.customer(ask.customer_id)
        assert customer is not None
        suppressed, complaints, latest, asks = await store.ask_facts(customer.id)
        history = AskHistory(suppressed, complaints, latest, asks)
        answered = latest is not None and latest[1] >= ask.created_at
        if not answered and lapsed:
            await store.update_ask(
                ask.id, state="skipped", reason="no answer to the survey in its life", due_at=None
            )
            return
        decided = decide(Moment.SURVEY_ANSWER, history, rules(services), now)
        if isinstance(decided, Ask):
            decided = await _below_min_stage(services, customer.id) or decided
        if isinstance(decided, Ask):
            due = next_in_window(decided.due_at, zone(services, customer), _window(services))
            await store.update_ask(ask.id, state="scheduled", reason=None, due_at=due)
        else:
            reason = decided.reason
            await store.update_ask(ask.id, state="skipped", reason=reason, due_at=None)

    await isolation.each(
        services,
        "waiting ask",
        waiting,
        one,
        key=lambda e: e[0].id,
        customer=lambda e: e[0].customer_id,
    )
    return len(waiting)


async def _below_min_stage(services: Services, customer_id: int) -> NoAsk | None:
    """referrals.min_stage: a customer short of it is not asked (yet: stages only go up)."""
    minimum = services.config.settings.referrals.min_stage
    if minimum is None:
        return None
    reason = short_of(await stages.stage_of(services.store, customer_id), minimum)
    return NoAsk(reason) if reason else None


async def send_asks(services: Services) -> int:
    store: Asks = services.store
    now = services.clock.now()
    if services.config.settings.referrals.daily_ask_cap:
        due = await ask_cap.within_cap(services)  # the most influential first, the rest wait
    else:
        due = await store.due_asks(now, BATCH)
    await isolation.each(
        services,
        "ask",
        due,
        lambda ask: _send_ask(services, ask),
        key=lambda ask: ask.id,
        customer=lambda ask: ask.customer_id,
    )
    return len(due)


async def _send_ask(services: Services, ask: AskRow) -> None:
    store: AsksAndCustomersAndReferrals = services.store
    now = services.clock.now()
    customer = await store.customer(ask.customer_id)
    assert customer is not None
    suppressed, complaints, _, _ = await store.ask_facts(customer.id)
    if suppressed or complaints:  # things changed since the moment: check again before sending
        reason = f"address is suppressed ({suppressed})" if suppressed else "a complaint is open"
        await store.update_ask(ask.id, state="skipped", reason=reason, due_at=None)
        return
    place = zone(services, customer)
    if not in_window(now, place, _window(services)):
        later = next_in_window(now, place, _window(services))
        await store.update_ask(ask.id, state="scheduled", reason=None, due_at=later)
        return
    if ask.moment == Moment.PARTNER_JOINED:
        await notes.send_intro_ask(services, ask, customer)
        return
    advocate = await store.ensure_advocate(customer.id, now)
    terms = await offers.terms_for(services, advocate)
    settings = services.config.settings.referrals
    # the job of the completed project whose moment this is (its survey's, when the ask
    # waited for the answer); other moments name no job
    kind, _, source = ask.source.partition(":")
    job = await store.event_job(source) if kind == "event" else None
    await queue_for_customer(
        services,
        customer,
        kind="referral_ask",
        context={
            "customer_name": first_name(customer),
            "moment": "survey_answer" if ask.moment == Moment.SURVEY_ANSWER else ask.moment,
            # ?via=ask: the funnel counts what the ask email brings (daemon/engine/funnel.py)
            "referral_url": services.url(f"/r/{advocate.code}?via=ask"),
            "introduce_url": services.url(f"/r/{advocate.code}/introduce?via=ask"),
            "education_url": services.url(f"/r/{advocate.code}/learn?via=ask")
            if services.config.education
            else None,
            "incentive": terms.text,
            "incentive_choices": list(terms.choices),
            "materials": [{"name": _material_name(m.file, m.name)} for m in settings.materials],
            "links": [{"title": link.title, "url": link.url} for link in settings.links],
            "job": services.renderer.job(job),
        },
        dedupe_key=f"ask:{ask.id}",
        attachments=materials(services),
    )
    await store.ask_sent(ask.id, services.clock.now())


def materials(services: Services) -> list[Attachment]:
    """The owner's support materials, read when an ask is built (so edits apply at once)."""
    found = []
    for material in services.config.settings.referrals.materials:
        path = services.config.resolve(material.file)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix.lower() == ".vcf":
            kind = "text/vcard"
        found.append(
            Attachment(_material_name(material.file, material.name), kind, path.read_bytes())
        )
    return found


def _material_name(file: Any, name: str | None) -> str:
    return name or str(file).rsplit("/", 1)[-1]


def _window(services: Services) -> Any:
    return services.config.settings.send_window.window()


# introductions → referrals ----------------------------------------------------------------------


async def introduce(
    services: Services,
    advocate: Advocate,
    intro: Introduction,
    channel: str,
    via: str | None = None,
) -> Referral:
    """Record a referral; the owner, the advocate and (only with consent) the friend hear of it.
    `via`: the funnel's channel the friend's link carried (daemon/engine/funnel.py), if any."""
    store: IntroduceStore = services.store
    now = services.clock.now()
    customer = await store.customer(advocate.customer_id)
    assert customer is not None
    flag = None
    own = self_referral(intro.friend_email, customer.email)
    if own:
        flag = "self-referral: the friend's address is the advocate's own; no reward"
    elif intro.friend_email and await store.has_history(intro.friend_email):
        flag = "the friend is already a customer; no reward"
    friend_id = None
    if intro.friend_email and intro.expects_contact and not own:
        friend_id = (await store.ensure_customer(intro.friend_email, now)).id
    new = NewReferral(advocate.id, intro, grade(intro), channel, flag, friend_id, via)
    referral = await store.add_referral(new, now)
    await stages.refresh(store, [customer.id, *([friend_id] if friend_id else [])])  # Refer, Know
    services.nudge()
    return referral


async def notify_referrals(services: Services) -> int:
    store: CustomersAndPartnersAndReferrals = services.store
    fresh = await store.unnotified_referrals(BATCH)

    async def one(referral: Referral) -> None:
        advocate = await store.advocate(referral.advocate_id)
        assert advocate is not None
        customer = await store.customer(advocate.customer_id)
        assert customer is not None
        source = await notes.source_name(store, advocate, customer)
        await enqueue(
            services,
            build_email(
                services,
                kind="owner_referral",
                context={
                    "advocate": {"name": source, "email": customer.email},
                    **referral_facts(referral),
                    "relationship": referral.relationship,
                    "referral_id": referral.public_id,
                    "link": dashboard_links.referral(services.url("/admin"), referral.public_id),
                    "status_command": f"vouch referral {referral.public_id} contacted",
                },
                to_email=services.config.settings.business.owner_email,
                dedupe_key=f"referral-owner:{referral.id}",
            ),
        )
        if self_referral(referral.friend_email, customer.email):
            # advocate and friend are one person: the owner sees the flag; they get no thanks
            # for it, and never "X suggested we get in touch" about themselves
            await store.referral_notified(referral.id)
            return
        await queue_for_customer(
            services,
            customer,
            kind="advocate_thanks",
            context={
                "customer_name": first_name(customer),
                "friend_name": referral.friend_name,
                "expects_contact": referral.expects_contact,
            },
            dedupe_key=f"referral-thanks:{referral.id}",
        )
        if referral.expects_contact and referral.friend_email:  # never without their consent
            friend = await store.customer_by_email(referral.friend_email)
            assert friend is not None
            await enqueue(
                services,
                build_email(
                    services,
                    kind="friend_note",
                    context={
                        "friend_name": first_name(friend) or referral.friend_name,
                        "advocate_name": one_line(source or customer.email),
                        "need": referral.need,
                        "friend_offer": await friend_offers.shown(services, advocate),
                        "unsubscribe_url": unsubscribe_url(services, friend),
                    },
                    to_email=referral.friend_email,
                    to_name=referral.friend_name,
                    dedupe_key=f"referral-friend:{referral.id}",
                    customer_id=friend.id,
                    headers=unsubscribe_headers(services, friend),
                    locale=friend.locale or customer.locale,  # the friend's, else the advocate's
                ),
            )
        await store.referral_notified(referral.id)

    await isolation.each(
        services, "referral note", fresh, one, key=lambda r: r.id, customer=lambda r: None
    )
    return len(fresh)


# the road: contacted, meeting, won, lost ---------------------------------------------------------


async def change_status(
    services: Services,
    referral: Referral,
    status: str,
    *,
    value: float | None = None,
    note: str | None = None,
    share: bool | None = None,
) -> Referral:
    """Move a referral on. The advocate always hears of `contacted` and of a win (with the
    reward); of `meeting` and `lost` only when the owner chooses to share."""
    if status not in STATUSES or status == "new":
        raise ReferralError(f"unknown status {status!r}: use contacted, meeting, won or lost")
    if status == referral.status:
        return referral  # the same news twice: nothing new to record or send
    if status not in _NEXT[referral.status]:
        raise ReferralError(
            f"referral {referral.public_id} is {referral.status}; it cannot become {status}"
        )
    if value is not None and value < 0:
        raise ReferralError("value must be 0 or more")
    store: Referrals = services.store
    now = services.clock.now()
    shared = status == "contacted" if share is None else share
    if status == "won":  # the win has its own email: the thank-you with the reward, or for a
        # partner who takes none, the shared step becomes a plain thank-you
        shared = await notes.thanks_on_win(services.store, referral)
    await store.move_referral(referral.id, ReferralMove(status, value, note, shared), now)
    moved = await store.referral_by_id(referral.id)
    assert moved is not None
    if status == "won":
        await _reward(services, moved)
    services.nudge()
    return moved


class ReopenStore(Corrections, Referrals, Protocol):
    """The store as `reopen` uses it."""


async def reopen(services: Services, referral: Referral) -> Referral:
    """Undo a won or lost marked by mistake, within `referrals.reopen_days`: the referral goes
    back to the status it had, a reward not yet given is withdrawn (corrections.py); the
    advocate is told nothing. ReferralError says why not, in words."""
    store: ReopenStore = services.store
    now = services.clock.now()
    facts = await store.reopen_facts(referral.id)
    assert facts is not None
    window = timedelta(days=services.config.settings.referrals.reopen_days)
    why = reopen_rule.why_not(
        referral.status, facts.closed_at, facts.reward_state, now, window, facts.told
    )
    if why is None and not await store.reopen_referral(
        referral.id, referral.status, facts.before, now
    ):
        why = "it changed meanwhile; reload the page to see where it stands"
    if why is not None:
        raise ReferralError(f"referral {referral.public_id} cannot be reopened: {why}")
    moved = await store.referral_by_id(referral.id)
    assert moved is not None
    return moved


async def _reward(services: Services, referral: Referral) -> None:
    store: RewardStore = services.store
    now = services.clock.now()
    settings = services.config.settings.referrals.reward
    advocate = await store.advocate(referral.advocate_id)
    assert advocate is not None
    if referral.flag is None and await notes.rewarded(store, referral):
        terms = await offers.terms_for(services, advocate)  # as promised
        description, kind = issued(
            terms, referral.reward_choice, settings.kind, settings.voucher_choices
        )
        new = NewReward(description, kind, settings.code_prefix, settings.approval)
        await store.create_reward(referral, new, now)
        customer = await store.customer(advocate.customer_id)
        assert customer is not None
        if await store.partner_by_advocate(advocate.id) is None:  # partners have their link
            await consider(services, customer, Moment.REFERRAL_WON, f"referral:{referral.id}")


async def notify_steps(services: Services) -> int:
    store: CustomersAndReferrals = services.store
    steps = await store.unnotified_steps(BATCH)

    async def one(step: Step) -> None:
        advocate = await store.advocate(step.referral.advocate_id)
        assert advocate is not None
        customer = await store.customer(advocate.customer_id)
        assert customer is not None
        if step.status == "won":  # only a partner's win without a reward is a shared step
            await notes.send_thanks(services, step, customer)
            await store.step_notified(step.id)
            return
        await queue_for_customer(
            services,
            customer,
            kind="advocate_update",
            context={
                "customer_name": first_name(customer),
                "friend_name": step.referral.friend_name,
                "status": step.status,
                "note": step.note,
            },
            dedupe_key=f"referral-step:{step.id}",
        )
        await store.step_notified(step.id)

    await isolation.each(
        services, "step note", steps, one, key=lambda s: s.id, customer=lambda s: None
    )
    return len(steps)


async def notify_rewards(services: Services) -> int:
    store: CustomersAndReferralsAndRewards = services.store
    rewards = await store.unnotified_rewards(BATCH)

    async def one(reward: Reward) -> None:
        referral = await store.referral_by_id(reward.referral_id)
        advocate = await store.advocate(reward.advocate_id)
        assert referral is not None and advocate is not None
        customer = await store.customer(advocate.customer_id)
        assert customer is not None
        await queue_for_customer(
            services,
            customer,
            kind="advocate_reward",
            context={
                "customer_name": first_name(customer),
                "friend_name": referral.friend_name,
                "reward": reward.description,
                "reward_code": reward.code,
            },
            dedupe_key=f"reward:{reward.id}",
        )
        await store.reward_notified(reward.id)

    await isolation.each(
        services, "reward note", rewards, one, key=lambda r: r.id, customer=lambda r: None
    )
    return len(rewards)


def referral_facts(referral: Referral) -> dict[str, Any]:
    """What the owner is told of a referral, the same in the owner's email and the API: the
    friend, what they need and when, whether they expect contact, the grade and any flag."""
    return {
        "friend": {
            "name": referral.friend_name,
            "email": referral.friend_email,
            "phone": referral.friend_phone,
        },
        "need": referral.need,
        "timing": referral.timing,
        "expects_contact": referral.expects_contact,
        "advocate_introduces": referral.advocate_introduces,
        "grade": referral.grade,
        "flag": referral.flag,
    }


#: What the referral engine has due, each a sweep of the scheduler's tick (daemon/run/scheduler.py).
SWEEPS = {
    "waiting asks": resolve_waiting,
    "referral notes": notify_referrals,
    "step notes": notify_steps,
    "reward notes": notify_rewards,
    "asks": send_asks,
}
