"""The rewards waiting for the owner: those to approve (`reward.approval = true`), with Approve
(the referral page's own action, `vouch reward approve ID`), and those waiting for a code from
the pool, with the upload that fills it (`vouch reward load FILE`: the same reading of the file
and the same refusals, daemon/referrals/reward_codes.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from daemon.referrals import reward_codes
from daemon.store.desk import Desk
from daemon.web.admin_referrals import WAITING
from daemon.web.owner import admin_page, checked_form, owner, record
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

SHOWN = 200
MAX_FILE = 2_000_000  # bytes: a hundred thousand codes and then some


async def _rewards_page(
    request: Request,
    session: Session,
    status: int = 200,
    notice: str | None = None,
    problems: list[str] | None = None,
) -> Response:
    svc = services(request)
    store: Desk = svc.store
    free, waiting = await store.waiting_rewards(SHOWN)
    reward = svc.config.settings.referrals.reward
    return admin_page(
        request,
        session,
        "admin/rewards.html",
        status,
        notice=notice,
        waiting=waiting,
        free=free,
        states=WAITING,
        pool=reward.kind == "pool",
        approval=reward.approval,
        problems=problems or [],
    )


@router.get("/rewards")
async def rewards(
    request: Request,
    session: Owner,
    done: str | None = None,
    added: int | None = None,
    of: int | None = None,
) -> Response:
    notice = None
    if done == "approved":
        notice = "Reward approved: the advocate gets their thank-you with it at the next send."
    elif done == "loaded" and added is not None and of is not None:
        notice = f"{added} new codes in the pool ({of} in the file)."
    return await _rewards_page(request, session, notice=notice)


@router.post("/rewards/codes")
async def load_codes(request: Request, session: Owner) -> Response:
    """Codes from an uploaded file into the pool; a bad file loads nothing and says why."""
    try:
        return await _load_codes(request, session)
    finally:  # the upload's temporary file, whatever happened (a refused token too)
        await (await request.form()).close()


async def _load_codes(request: Request, session: Session) -> Response:
    form = await checked_form(request, session)
    upload = form.get("codes")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _rewards_page(request, session, 422, problems=["Choose a file of codes."])
    data = await upload.read(MAX_FILE + 1)
    name = upload.filename
    try:
        if len(data) > MAX_FILE:
            raise reward_codes.CodeFileError([f"{name}: larger than {MAX_FILE:,} bytes"])
        codes = reward_codes.parse(data, name)
    except reward_codes.CodeFileError as exc:
        return await _rewards_page(request, session, 422, problems=exc.problems)
    loaded = await reward_codes.load(services(request), codes)
    await record(request, session, f"loaded {loaded.added} reward codes", "rewards:codes")
    return RedirectResponse(
        f"/admin/rewards?done=loaded&added={loaded.added}&of={loaded.in_file}", status_code=303
    )
