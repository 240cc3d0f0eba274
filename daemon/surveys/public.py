"""A survey's public link: for a printed invoice, a text message or the counter, where the person
types their address beside their score.

Anyone can type any address, so an answer in a customer's name counts only once they confirm it
from their own inbox (one email a day at most, however often the address is typed); until then
it waits apart, and a confirmed one still respects the survey's throttle (a customer surveyed or
answering lately is kept apart, not counted twice). An address that is no customer's is kept
apart and reported, never mixed into the customers' NPS, and never emailed. The page says the
same whichever it was, so it tells nobody whether an address belongs to a customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from daemon.config import Config
from daemon.engine.segments import segment
from daemon.mail.compose import queue_for_customer
from daemon.mail.tokens import Signer, public_answer_token, public_survey_token
from daemon.run.services import Services
from daemon.store.public_answers import NewPublicAnswer, PublicAnswer
from daemon.store.rows import Answer
from daemon.surveys.answers import Closed, answer_invitation, record
from daemon.surveys.survey_email import first_name

SOURCE = "public link"
ONE_EMAIL_PER = timedelta(days=1)  # confirmation emails to one address


class Confirmed(StrEnum):
    COUNTED = "counted"  # the customer's answer now, with its usual consequences
    THROTTLED = "throttled"  # confirmed, but surveyed lately: kept apart
    BEFORE = "before"  # confirmed already (a second click changes nothing)


@dataclass(frozen=True)
class Outcome:
    state: Confirmed
    answer: PublicAnswer


def link(config: Config, survey_id: str) -> str:
    """The survey's public address, to print or text (signed: it cannot be guessed)."""
    token = public_survey_token(Signer(config.secrets.signing_keys), survey_id)
    return f"{config.settings.business.public_url}/p/{token}"


async def submit(
    services: Services,
    survey_id: str,
    email: str,
    score: int,
    comment: str | None,
    locale: str | None,
) -> None:
    """Keep an answer given through the public link: apart when the address is nobody's we
    know, else waiting for the customer to confirm it (emailed once a day at most)."""
    store, now = services.store, services.clock.now()
    customer = await store.customer_by_email(email)
    if customer is None:
        kept = NewPublicAnswer(survey_id, email, None, score, comment, locale)
        await store.add_public_answer(kept, now)
        return
    if await store.pending_since(customer.email, now - ONE_EMAIL_PER):
        return  # one confirmation is on its way: a stranger cannot flood the customer's inbox
    language = customer.locale or locale  # their pages and email in their language
    answer = await store.add_public_answer(
        NewPublicAnswer(survey_id, customer.email, customer.id, score, comment, language), now
    )
    survey = services.config.surveys[survey_id]
    words = survey.words(services.renderer.language("public_confirm", customer.locale))
    await queue_for_customer(
        services,
        customer,
        kind="public_confirm",
        context={
            "customer_name": first_name(customer),
            "survey_question": services.renderer.survey_question(words.question),
            "score": score,
            "confirm_url": services.url(
                f"/p/c/{public_answer_token(services.signer, answer.public_id)}"
            ),
        },
        dedupe_key=f"public-confirm:{answer.id}",
    )
    services.nudge()


async def confirm(services: Services, answer: PublicAnswer) -> Outcome:
    """The customer confirmed from their inbox: their answer now (to their open invitation of
    this survey if they have one), unless the survey's throttle says they were surveyed lately."""
    store, now = services.store, services.clock.now()
    if answer.state != "pending" or answer.customer_id is None:
        return Outcome(Confirmed.BEFORE, answer)
    customer_id = answer.customer_id
    invitation = await store.open_invitation(customer_id, answer.survey, now)
    state = Confirmed.COUNTED
    if invitation is None:
        survey = services.config.surveys.get(answer.survey)
        last = (await store.last_surveyed([customer_id])).get(customer_id)
        throttle = timedelta(days=survey.throttle_days if survey else 0)
        if last is not None and now - last < throttle:
            state = Confirmed.THROTTLED
    if not await store.settle_public_answer(answer.id, state.value, now):
        return Outcome(Confirmed.BEFORE, answer)  # confirmed at the same moment elsewhere
    if state is Confirmed.THROTTLED:
        return Outcome(state, answer)
    try:
        if invitation is not None:
            saved = await answer_invitation(
                services, invitation, answer.score, answer.comment, source=SOURCE
            )
            if isinstance(saved, Closed):
                raise LookupError("the invitation closed while it was confirmed")
        else:
            await record(
                services,
                Answer(
                    customer_id=customer_id,
                    survey=answer.survey,
                    score=answer.score,
                    segment=segment(answer.score).value,
                    comment=answer.comment,
                    source=SOURCE,
                    answered_at=now,
                ),
            )
    except BaseException:  # not recorded: it waits again, and a second click tries again
        await store.settle_public_answer(answer.id, "pending", now, was=state.value)
        raise
    return Outcome(state, answer)
