"""A person's data on request: everything held about them (`vouch export-person`, the
dashboard's download) and forgetting them (`vouch forget`, `DELETE /v1/customers/{email}`, the
dashboard's Forget). One code path for each, so the answers and the refusals are the same.

The owner's private notes on the person (daemon/store/notes.py) are part of both: exported
with the rest, and erased first when the person is forgotten (a repeat still finds them while
the address is known).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from daemon.run.services import Services
from daemon.settings import stored_address
from daemon.store.customers import Customers
from daemon.store.notes import OwnerNotes
from daemon.store.privacy import Privacy


class PrivacyStore(Customers, OwnerNotes, Privacy, Protocol):
    """The store as a person's export and erasure use it."""


class NotAnAddress(ValueError):
    """The argument is not an email address (the message says why)."""


class NoErasureKey(RuntimeError):
    """Forgetting needs the daemon's secret: a forgotten person's event ids are kept as hashes
    keyed by it."""


def exact_address(address: str) -> str:
    """The address as stored; NotAnAddress when it is not one."""
    try:
        return stored_address(address)
    except ValueError as exc:
        raise NotAnAddress(str(exc)) from None


async def export(services: Services, address: str) -> dict[str, Any]:
    """Everything the store holds about this exact address, the owner's notes included."""
    exact = exact_address(address)
    store: PrivacyStore = services.store
    person = await store.person_export(exact)
    customer = await store.customer_by_email(exact)
    notes = await store.notes_on_customer(customer.id) if customer else []
    person["owner_notes"] = [asdict(n) | {"at": n.at.isoformat()} for n in notes]
    zoned: dict[str, Any] = in_zone(person, ZoneInfo(services.config.settings.business.timezone))
    return zoned


def in_zone(value: Any, zone: ZoneInfo, key: str = "") -> Any:
    """The export's times (`*_at`, `at`) in the business's time zone, with that day's offset
    (as `vouch export` writes them): the same instants, read as the owner reads a clock. An
    event's payload stays as it was received."""
    if isinstance(value, dict):
        return {k: v if k == "payload" else in_zone(v, zone, k) for k, v in value.items()}
    if isinstance(value, list):
        return [in_zone(v, zone, key) for v in value]
    if isinstance(value, str) and (key.endswith("_at") or key == "at"):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value  # not a time after all (an event's own data): as it was
        return moment.astimezone(zone).isoformat() if moment.tzinfo else value
    return value


async def forget(services: Services, address: str) -> dict[str, Any]:
    """Erase the person (the store's `forget`), their owner's notes first; what changed, by
    table. NotAnAddress, or NoErasureKey without the daemon's secret: nothing is changed."""
    exact = exact_address(address)
    if not services.config.secrets.signing_keys:
        name = services.config.settings.secrets.signing_key_env
        raise NoErasureKey(
            f"set {name}, the daemon's secret: a forgotten person's event ids are kept as "
            "hashes keyed by it"
        )
    store: PrivacyStore = services.store
    customer = await store.customer_by_email(exact)
    notes = await store.forget_notes(customer.id) if customer else 0
    done = await store.forget(exact, services.clock.now())
    done["changed"]["owner_notes"] = notes
    done["held"] = bool(done["held"] or notes)
    return done


def summary(exact: str, done: dict[str, Any]) -> list[str]:
    """What forgetting did, in lines for the owner (the CLI prints them, the dashboard shows
    them)."""
    changed = ", ".join(f"{n} {what}" for what, n in done["changed"].items() if n)
    if not done["held"]:
        lines = [f"nothing held about {exact} (already forgotten, or never known)"]
    elif not done["changed"]["customer"]:
        lines = [f"no customer {exact}; erased what held the address ({changed})"]
    else:
        lines = [f"forgotten {exact} (now {done['placeholder']}): {changed}"]
    lines.append("the address stays suppressed, stored only as its SHA-256 hash")
    if not done["wal_truncated"]:
        lines.append(
            "note: the write-ahead log is in use; old copies leave it at the next checkpoint"
        )
    return lines
