"""The referral pages: the friend's landing page and the advocate's introduce-a-friend form.

Addressed by the advocate's unguessable code. Plain forms, no JavaScript; validated on the
server with messages next to each field; rate-limited per advocate. The pages speak the
advocate's language (the friend on the landing page most likely shares it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from daemon.engine import funnel as rules
from daemon.engine.grades import check
from daemon.engine.offers import Terms
from daemon.money import money_in, percent_in
from daemon.partners import notes
from daemon.referrals import follow_up, friend_offers, funnel, offers
from daemon.run.services import Services
from daemon.store.referrals import Referrals
from daemon.store.rows import Advocate, Customer, Partner
from daemon.web import state
from daemon.web.pages import PageNotFound, page

router = APIRouter(include_in_schema=False)


async def _advocate(request: Request, code: str) -> tuple[Advocate, Customer, Partner | None]:
    """The advocate behind a code, with the partner it is (None: a customer)."""
    services = state.services(request)
    advocate = await services.store.advocate_by_code(code) if len(code) <= 64 else None
    customer = await services.store.customer(advocate.customer_id) if advocate else None
    if advocate is None or customer is None:
        raise PageNotFound
    return advocate, customer, await services.store.partner_by_advocate(advocate.id)


def _name(request: Request, customer: Customer, partner: Partner | None = None) -> str:
    """Who the pages thank: a customer's first name, a partner's contact (or business)."""
    if partner is not None:
        return notes.greeting(partner)
    if name := follow_up.first_name(customer):
        return name
    words = state.words(request)
    business = state.services(request).config.settings.business
    return words.for_reader(customer.locale, business.locale)("referral.a_friend")


def _label(request: Request, customer: Customer, partner: Partner | None) -> str:
    """Who the friend's page names as recommending: a partner with its business."""
    return notes.label(partner) if partner else _name(request, customer)


async def _limited(services: Services, advocate: Advocate) -> bool:
    store: Referrals = services.store
    since = services.clock.now() - timedelta(hours=1)
    limit = services.config.settings.referrals.introductions_per_hour
    return await store.referrals_since(advocate.id, since) >= limit


def _too_many(request: Request, customer: Customer) -> HTMLResponse:
    return page(request, "message.html", 429, locale=customer.locale, message="too_many")


async def _friend_offer(
    request: Request, advocate: Advocate, customer: Customer
) -> dict[str, str] | None:
    """The friend offer with the advocate's friend code, in the reader's words and figures."""
    services = state.services(request)
    shown = await friend_offers.shown(services, advocate)
    if shown is None:
        return None
    business = services.config.settings.business
    t = state.words(request).for_reader(customer.locale, business.locale)
    if shown["text"]:
        offer = str(shown["text"])
    elif shown["percent_off"] is not None:
        offer = t("friend_offer.percent", value=percent_in(t.locale)(shown["percent_off"]))
    else:
        amount = money_in(business.currency, t.locale)(shown["amount_off"])
        offer = t("friend_offer.amount", value=amount)
    return {"offer": offer, "code": str(shown["code"])}


def _via(request: Request) -> str | None:
    """The funnel's channel the link carried (`?via=`), kept on the page's form and links."""
    return rules.via(request.query_params.get("via"))


def _opened(request: Request) -> str | None:
    """The channel of a referral link opened from outside (an email, a message, a QR code):
    a step from one of our pages to another (`from=page`) opens nothing new."""
    return None if "from" in request.query_params else _via(request)


def _with_via(path: str, via: str | None) -> str:
    return f"{path}?via={via}&from=page" if via else path


@router.get("/r/{code}")
async def landing(request: Request, code: str) -> Response:
    advocate, customer, partner = await _advocate(request, code)
    services = state.services(request)
    now = services.clock.now()  # the opening and the offer it shows, judged together
    await funnel.opened(services, advocate.id, _opened(request), "landing", now)
    friend = await _friend_offer(request, advocate, customer)
    if friend is not None:
        await funnel.shown(services, advocate.id, "offer", at=now)
    return _landing(request, code, customer, partner, form={}, problems={}, friend_offer=friend)


def _landing(
    request: Request,
    code: str,
    customer: Customer,
    partner: Partner | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The friend's page, naming who recommends the business, in the advocate's language."""
    return page(
        request,
        "referral_landing.html",
        status,
        locale=customer.locale,
        advocate_name=_label(request, customer, partner),
        action=_with_via(f"/r/{code}", _via(request)),
        **context,
    )


@router.post("/r/{code}")
async def landing_submit(request: Request, code: str) -> Response:
    """The friend asks to be contacted: a grade B referral (they expect contact, need given)."""
    advocate, customer, partner = await _advocate(request, code)
    services = state.services(request)
    if await _limited(services, advocate):
        return _too_many(request, customer)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    form |= {"expects_contact": "yes", "advocate_introduces": "", "reward_choice": ""}
    intro, problems = check(form, [])
    if intro is not None and not intro.need:
        intro, problems = None, {"need": "please tell us briefly what you have in mind"}
    if intro is None:
        friend = await _friend_offer(request, advocate, customer)
        return _landing(
            request, code, customer, partner, 400, form=form, problems=problems, friend_offer=friend
        )
    await follow_up.introduce(services, advocate, intro, channel="landing", via=_via(request))
    return _landing(request, code, customer, partner, friend_name=intro.friend_name, done=True)


@router.get("/r/{code}/introduce")
async def introduce_form(request: Request, code: str) -> Response:
    advocate, customer, partner = await _advocate(request, code)
    services = state.services(request)
    await funnel.opened(services, advocate.id, _opened(request), "introduce", services.clock.now())
    terms = await _terms(services, advocate, partner)
    friend = await _friend_offer(request, advocate, customer)
    return _introducepage(
        request, code, customer, partner, terms, form={}, problems={}, friend_offer=friend
    )


async def _terms(services: Services, advocate: Advocate, partner: Partner | None) -> Terms | None:
    """The offer on the form: the advocate's own; none for a partner who takes no reward."""
    if partner is not None and not partner.reward:
        return None
    return await offers.terms_for(services, advocate)


def _introducepage(
    request: Request,
    code: str,
    customer: Customer,
    partner: Partner | None,
    terms: Terms | None,
    *,
    form: dict[str, str],
    problems: dict[str, str],
    status: int = 200,
    friend_offer: dict[str, str] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "introduce.html",
        status,
        locale=customer.locale,
        advocate_name=_name(request, customer, partner),
        incentive=terms.text if terms else None,  # the advocate's own offer, as promised
        reward_choices=list(terms.choices) if terms else [],
        friend_offer=friend_offer,
        form=form,
        problems=problems,
        action=_with_via(f"/r/{code}/introduce", _via(request)),
    )


@router.post("/r/{code}/introduce")
async def introduce_submit(request: Request, code: str) -> Response:
    advocate, customer, partner = await _advocate(request, code)
    services = state.services(request)
    if await _limited(services, advocate):
        return _too_many(request, customer)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    terms = await _terms(services, advocate, partner)
    intro, problems = check(form, list(terms.choices) if terms else [], customer.email)
    if intro is None:
        friend = await _friend_offer(request, advocate, customer)
        return _introducepage(
            request,
            code,
            customer,
            partner,
            terms,
            form=form,
            problems=problems,
            status=400,
            friend_offer=friend,
        )
    await follow_up.introduce(services, advocate, intro, channel="introduce", via=_via(request))
    return page(
        request,
        "introduce.html",
        locale=customer.locale,
        advocate_name=_name(request, customer, partner),
        friend_name=intro.friend_name,
        expects_contact=intro.expects_contact,
        done=True,
        action=_with_via(f"/r/{code}/introduce", _via(request)),
    )


@router.get("/r/{code}/learn")
async def education(request: Request, code: str) -> Response:
    """How to refer: the owner's own words from templates/pages/referral_education.toml."""
    advocate, customer, partner = await _advocate(request, code)
    services = state.services(request)
    taught = services.config.education
    if taught is None:
        raise PageNotFound
    await funnel.opened(services, advocate.id, _opened(request), "learn", services.clock.now())
    return page(
        request,
        "education.html",
        locale=customer.locale,
        advocate_name=_name(request, customer, partner),
        education=taught,
        introduce=_with_via(f"/r/{code}/introduce", _via(request)),
        landing=_with_via(f"/r/{code}", _via(request)),
    )
