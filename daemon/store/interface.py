"""The whole store: the composition of every concern's interface.

Each concern (daemon/store/<concern>.py) is a short Protocol of the calls its users make, with its
SQLite half beside it. A consumer depends on the concerns it uses; `Services.store` is the whole
`Store`. SQLite implements it (`SQLiteStore`), and so does PostgreSQL (`PostgresStore`,
daemon/store/postgres.py: outbox claims are leases taken with `FOR UPDATE SKIP LOCKED`); each
concern's SQL is written once for both where the dialects agree (daemon/store/queries.py).
"""

from __future__ import annotations

from typing import Protocol

from daemon.store.answers import Answers
from daemon.store.asks import Asks
from daemon.store.bounces import Bounces
from daemon.store.corrections import Corrections
from daemon.store.customers import Customers
from daemon.store.dashboard import Dashboard
from daemon.store.desk import Desk
from daemon.store.digest import Digest
from daemon.store.events import Events
from daemon.store.friend_offers import FriendOffers
from daemon.store.funnel import Funnel
from daemon.store.generations import Generations
from daemon.store.influence import InfluenceMarks
from daemon.store.invitations import Invitations
from daemon.store.leases import Leases
from daemon.store.lifecycle import Lifecycle
from daemon.store.notes import OwnerNotes
from daemon.store.offers import Offers
from daemon.store.outbox import Outbox
from daemon.store.partners import Partners
from daemon.store.previews import Previews
from daemon.store.privacy import Privacy
from daemon.store.public_answers import PublicAnswers
from daemon.store.referrals import Referrals
from daemon.store.replies import Replies
from daemon.store.reports import Reports
from daemon.store.reviews import ReviewAsks
from daemon.store.rewards import Rewards
from daemon.store.setaside import SetAsides
from daemon.store.upcoming import Upcoming
from daemon.store.users import Users
from daemon.store.wakes import Wakes
from daemon.store.webhooks import Webhooks


class Upkeep(Protocol):
    """The store as a whole: its schema, a write probe for /healthz, closing it."""

    erasure_keys: tuple[str, ...]  # see PrivacySQL.forget

    async def close(self) -> None: ...
    async def write_probe(self) -> None: ...
    async def schema_version(self) -> int: ...


class Store(
    Answers,
    Asks,
    Bounces,
    Corrections,
    Customers,
    Dashboard,
    Desk,
    Digest,
    Events,
    FriendOffers,
    Generations,
    Funnel,
    InfluenceMarks,
    Invitations,
    Leases,
    Lifecycle,
    Offers,
    Outbox,
    OwnerNotes,
    Partners,
    Previews,
    Privacy,
    PublicAnswers,
    Referrals,
    Replies,
    Reports,
    ReviewAsks,
    Rewards,
    SetAsides,
    Upcoming,
    Users,
    Wakes,
    Webhooks,
    Upkeep,
    Protocol,
):
    """Every concern of the store in one: what the daemon opens and hands to every part."""
