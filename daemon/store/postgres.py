"""The PostgreSQL store: every concern's PostgreSQL half on one pool, as `SQLiteStore` is
every SQLite half on one file (daemon/store/sqlite.py)."""

from __future__ import annotations

from daemon.store.answers import AnswersPG
from daemon.store.asks import AsksPG
from daemon.store.bounces import BouncesPG
from daemon.store.corrections import CorrectionsPG
from daemon.store.customers import CustomersPG
from daemon.store.dashboard import DashboardPG
from daemon.store.desk import DeskPG
from daemon.store.digest import DigestPG
from daemon.store.events import EventsPG
from daemon.store.friend_offers import FriendOffersPG
from daemon.store.funnel import FunnelPG
from daemon.store.generations import GenerationsPG
from daemon.store.influence import InfluencePG
from daemon.store.interface import Store
from daemon.store.invitations import InvitationsPG
from daemon.store.leases import LeasesPG
from daemon.store.lifecycle import LifecyclePG
from daemon.store.notes import NotesPG
from daemon.store.offers import OffersPG
from daemon.store.outbox import OutboxPG
from daemon.store.partners import PartnersPG
from daemon.store.pgdb import PGDB
from daemon.store.previews import PreviewsPG
from daemon.store.privacy import PrivacyPG
from daemon.store.public_answers import PublicAnswersPG
from daemon.store.referrals import ReferralsPG
from daemon.store.replies import RepliesPG
from daemon.store.reports import ReportsPG
from daemon.store.reviews import ReviewAsksPG
from daemon.store.rewards import RewardsPG
from daemon.store.setaside import SetAsidePG
from daemon.store.upcoming import UpcomingPG
from daemon.store.users import UsersPG
from daemon.store.wakes import WakesPG
from daemon.store.webhooks import WebhooksPG


class PostgresStore(
    EventsPG,
    CustomersPG,
    OutboxPG,
    BouncesPG,
    InvitationsPG,
    AnswersPG,
    AsksPG,
    ReferralsPG,
    RewardsPG,
    RepliesPG,
    OffersPG,
    InfluencePG,
    PartnersPG,
    LifecyclePG,
    WebhooksPG,
    DigestPG,
    SetAsidePG,
    PrivacyPG,
    ReportsPG,
    DashboardPG,
    UpcomingPG,
    UsersPG,
    LeasesPG,
    PublicAnswersPG,
    ReviewAsksPG,
    FriendOffersPG,
    FunnelPG,
    NotesPG,
    DeskPG,
    CorrectionsPG,
    WakesPG,
    GenerationsPG,
    PreviewsPG,
):
    @classmethod
    async def open(cls, url: str, *, password: str | None = None) -> PostgresStore:
        """A pool on `url`, its schema brought to this Vouch's version (StoreUnavailable when
        the server cannot be reached)."""
        store = cls(await PGDB.connect(url, password=password), url)
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
        return store


def as_store(store: PostgresStore) -> Store:
    """The PostgreSQL store as the daemon's `Store` (mypy checks it is one)."""
    return store
