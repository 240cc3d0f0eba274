"""The dashboard's users: the Users page (owners only: add, disable, reset a password) and
"change my password" for everyone. Both go through daemon/owner/users.py, as `vouch user` does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from daemon.owner import users
from daemon.web.owner import (
    LOGIN,
    admin_page,
    checked_form,
    owner,
    owner_only,
    record,
    text_fields,
)
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Anyone = Annotated[Session, Depends(owner)]
OwnerOnly = Annotated[Session, Depends(owner_only)]
DONE = {
    "added": "User added. They log in with their email and the password you gave them.",
    "disabled": "User disabled: they are logged out and cannot log in.",
    "password": "Password changed: their other sessions have ended.",
    "mine": "Your password is changed: your other sessions have ended.",
}
_FIELDS = ("email", "name", "role")


async def _users_page(
    request: Request,
    session: Session,
    status: int = 200,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    return admin_page(
        request,
        session,
        "admin/users.html",
        status,
        notice=DONE.get(done or ""),
        users=await services(request).store.users(),
        errors=errors or {},
        typed=typed or {},
    )


@router.get("/users")
async def users_page(request: Request, session: OwnerOnly, done: str | None = None) -> Response:
    return await _users_page(request, session, done=done)


@router.post("/users")
async def add_user(request: Request, session: OwnerOnly) -> Response:
    form = await checked_form(request, session)
    typed = text_fields(form, _FIELDS)
    svc = services(request)
    try:
        made = await users.add(
            svc.store,
            typed.get("email", ""),
            typed.get("name", ""),
            typed.get("role", ""),
            str(form.get("password") or ""),
            svc.clock.now(),
        )
    except users.UserError as exc:
        return await _users_page(
            request, session, 422, errors={exc.field: exc.problem}, typed=typed
        )
    await record(request, session, "added", f"user:{made.email}")
    if session.who.user_id is None:  # the first user ends the shared password's session
        return RedirectResponse(LOGIN, status_code=303)
    return RedirectResponse("/admin/users?done=added", status_code=303)


@router.post("/users/{email}/{change}")
async def change_user(request: Request, email: str, change: str, session: OwnerOnly) -> Response:
    """Disable a user, or reset their password (`vouch user disable|password EMAIL`)."""
    form = await checked_form(request, session)
    svc = services(request)
    keep = session.id if session.who.user_id is not None else None
    try:
        if change == "disable":
            await users.disable(svc.store, email, svc.clock.now())
        elif change == "password":
            password = str(form.get("password") or "")
            await users.set_password(svc.store, email, password, svc.clock.now(), keep)
        else:
            return await _users_page(request, session, 404, errors={"form": "no such change"})
    except users.UserError as exc:
        return await _users_page(request, session, 422, errors={exc.field: exc.problem})
    await record(request, session, "disabled" if change == "disable" else change, f"user:{email}")
    done = "disabled" if change == "disable" else "password"
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


@router.get("/account")
async def account(request: Request, session: Anyone, done: str | None = None) -> Response:
    return admin_page(
        request, session, "admin/account.html", notice=DONE.get(done or ""), errors={}
    )


@router.post("/account/password")
async def change_my_password(request: Request, session: Anyone) -> Response:
    """Everyone's own password: the sessions elsewhere end, this one stays."""
    form = await checked_form(request, session)
    svc = services(request)
    holder = session.who
    if holder.user_id is None:
        errors = {"form": "The shared password is set in the environment, not here."}
        return admin_page(request, session, "admin/account.html", 409, errors=errors)
    mine = next(u for u in await svc.store.users() if u.id == holder.user_id)
    current = str(form.get("current") or "")
    if await users.login(svc.store, mine.email, current, svc.clock.now()) is None:
        errors = {"current": "is not your password"}
        return admin_page(request, session, "admin/account.html", 422, errors=errors)
    password, again = str(form.get("password") or ""), str(form.get("again") or "")
    if password != again:
        errors = {"again": "does not match the new password"}
        return admin_page(request, session, "admin/account.html", 422, errors=errors)
    try:
        await users.set_password(svc.store, mine.email, password, svc.clock.now(), session.id)
    except users.UserError as exc:
        errors = {exc.field: exc.problem}
        return admin_page(request, session, "admin/account.html", 422, errors=errors)
    await record(request, session, "changed their password", f"user:{mine.email}")
    return RedirectResponse("/admin/account?done=mine", status_code=303)
