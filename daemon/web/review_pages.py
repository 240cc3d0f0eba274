"""/review/{token}: a review ask's link to one review site, through Vouch, so the owner sees
which sites were clicked.

The token is signed and names the ask and the site; anything else gets the plain 404 page. A
GET is redirected to the site at once and its click held as pending, to be judged a person's
or a mail scanner's by the survey links' rule (daemon/referrals/review_asks.py); a HEAD (what
link checkers send) is redirected and never recorded.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from daemon.mail.tokens import read_review_token
from daemon.web import state
from daemon.web.pages import PageNotFound

router = APIRouter(include_in_schema=False)


@router.api_route("/review/{token}", methods=["GET", "HEAD"], response_class=RedirectResponse)
async def review_link(request: Request, token: str) -> Response:
    services = state.services(request)
    parsed = read_review_token(services.signer, token)
    ask = await services.store.review_ask(parsed[0]) if parsed else None
    sites = ask.site_list() if ask else []
    if parsed is None or ask is None or parsed[1] >= len(sites):
        raise PageNotFound
    site = sites[parsed[1]]
    if request.method == "GET":
        await services.store.add_review_click(ask.id, parsed[1], site["name"], services.clock.now())
    response = RedirectResponse(site["url"], status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response
