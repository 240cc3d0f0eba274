"""The referral pages: the friend's landing page and the advocate's introduce-a-friend form.

Addressed by the advocate's unguessable code. Plain forms, no JavaScript; validated on the
server with messages next to each field; rate-limited per advocate. The pages speak the
advocate's language (the friend on the landing page most likely shares it).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from daemon import offers, referrals
from daemon.engine.grades import check
from daemon.engine.offers import Terms
from daemon.services import Services
from daemon.store.base import Advocate, Customer
from daemon.web.pages import not_found, page
from daemon.web.words import PageWords

router = APIRouter(include_in_schema=False)


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def _advocate(request: Request, code: str) -> tuple[Advocate, Customer] | None:
    services = _services(request)
    if len(code) > 64:
        return None
    advocate = await services.store.advocate_by_code(code)
    if advocate is None:
        return None
    customer = await services.store.customer(advocate.customer_id)
    return (advocate, customer) if customer else None


def _name(request: Request, customer: Customer) -> str:
    if name := referrals.first_name(customer):
        return name
    words: PageWords = request.app.state.words
    business = _services(request).config.settings.business
    return words.for_reader(customer.locale, business.locale)("referral.a_friend")


async def _limited(services: Services, advocate: Advocate) -> bool:
    since = services.clock.now() - timedelta(hours=1)
    limit = services.config.settings.referrals.introductions_per_hour
    return await services.store.referrals_since(advocate.id, since) >= limit


def _too_many(request: Request, customer: Customer) -> HTMLResponse:
    return page(request, "message.html", 429, locale=customer.locale, message="too_many")


@router.get("/r/{code}")
async def landing(request: Request, code: str) -> Response:
    found = await _advocate(request, code)
    if found is None:
        return not_found(request)
    return page(
        request,
        "referral_landing.html",
        locale=found[1].locale,
        advocate_name=_name(request, found[1]),
        form={},
        problems={},
        action=f"/r/{code}",
    )


@router.post("/r/{code}")
async def landing_submit(request: Request, code: str) -> Response:
    """The friend asks to be contacted: a grade B referral (they expect contact, need given)."""
    found = await _advocate(request, code)
    if found is None:
        return not_found(request)
    advocate, customer = found
    services = _services(request)
    if await _limited(services, advocate):
        return _too_many(request, customer)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    form |= {"expects_contact": "yes", "advocate_introduces": "", "reward_choice": ""}
    intro, problems = check(form, [])
    if intro is not None and not intro.need:
        intro, problems = None, {"need": "please tell us briefly what you have in mind"}
    if intro is None:
        return page(
            request,
            "referral_landing.html",
            400,
            locale=customer.locale,
            advocate_name=_name(request, customer),
            form=form,
            problems=problems,
            action=f"/r/{code}",
        )
    await referrals.introduce(services, advocate, intro, channel="landing")
    return page(
        request,
        "referral_landing.html",
        locale=customer.locale,
        advocate_name=_name(request, customer),
        friend_name=intro.friend_name,
        done=True,
    )


@router.get("/r/{code}/introduce")
async def introduce_form(request: Request, code: str) -> Response:
    found = await _advocate(request, code)
    if found is None:
        return not_found(request)
    terms = await offers.terms_for(_services(request), found[0])
    return _introducepage(request, code, found[1], terms, form={}, problems={})


def _introducepage(
    request: Request,
    code: str,
    customer: Customer,
    terms: Terms,
    *,
    form: dict[str, str],
    problems: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "introduce.html",
        status,
        locale=customer.locale,
        advocate_name=_name(request, customer),
        incentive=terms.text,  # the advocate's own offer, as promised
        reward_choices=list(terms.choices),
        form=form,
        problems=problems,
        action=f"/r/{code}/introduce",
    )


@router.post("/r/{code}/introduce")
async def introduce_submit(request: Request, code: str) -> Response:
    found = await _advocate(request, code)
    if found is None:
        return not_found(request)
    advocate, customer = found
    services = _services(request)
    if await _limited(services, advocate):
        return _too_many(request, customer)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    terms = await offers.terms_for(services, advocate)
    intro, problems = check(form, list(terms.choices))
    if intro is None:
        return _introducepage(
            request, code, customer, terms, form=form, problems=problems, status=400
        )
    await referrals.introduce(services, advocate, intro, channel="introduce")
    return page(
        request,
        "introduce.html",
        locale=customer.locale,
        advocate_name=_name(request, customer),
        friend_name=intro.friend_name,
        expects_contact=intro.expects_contact,
        done=True,
        action=f"/r/{code}/introduce",
    )


@router.get("/r/{code}/learn")
async def education(request: Request, code: str) -> Response:
    """How to refer: the owner's own words from templates/pages/referral_education.toml."""
    found = await _advocate(request, code)
    taught = _services(request).config.education
    if found is None or taught is None:
        return not_found(request)
    return page(
        request,
        "education.html",
        locale=found[1].locale,
        advocate_name=_name(request, found[1]),
        education=taught,
        introduce=f"/r/{code}/introduce",
        landing=f"/r/{code}",
    )
