"""The owner's config.toml, typed once and validated once, then passed down.

Secrets never live in the file: it names environment variables, resolved here at load time
from the environment the caller passes in (never read deeper in the code).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator

from daemon.engine.lifecycle_types import Stage
from daemon.engine.window import SendWindow
from daemon.errors import ConfigError, Problem
from daemon.mail.dkim import DkimKeyError, DkimSigner
from daemon.mail.locales import TAG
from daemon.money import Money, money_in
from daemon.referrals.education import FILE as EDUCATION_FILE
from daemon.referrals.education import Education, load_education
from daemon.settings import (
    Currency,
    Email,
    EnvName,
    FreeText,
    OneLine,
    Section,
    TimeZone,
    Url,
    read_toml,
    validation_problems,
)
from daemon.shipped import shipped
from daemon.surveys.definitions import Survey, load_surveys
from daemon.words import PageWords, load_words

MIN_SECRET_LENGTH = 16


class Business(Section):
    name: str = Field(
        min_length=1, max_length=120, description="the business's name (1-120 characters)"
    )
    email: Email = Field(description="the address emails come from, e.g. hello@example.com")
    reply_to: Email | None = Field(None, description="an email address for replies")
    owner_email: Email = Field(description="the owner's address for alerts and digests")
    timezone: TimeZone = Field("UTC", description='an IANA time zone such as "Europe/London"')
    about: str | None = Field(
        None, max_length=600, description="what the business does, in a sentence or two"
    )
    public_url: Url = Field(
        "http://127.0.0.1:8080", description='the public base URL, e.g. "https://vouch.example.com"'
    )
    locale: str = Field(
        "en",
        pattern=TAG.pattern,
        description='the language of the business and its owner, a locale tag such as "en"',
    )
    currency: Currency = Field(
        "GBP", description='the ISO 4217 code of the currency you price in, such as "USD" or "EUR"'
    )
    demo: bool = Field(
        False,
        description="true or false: this is the demo business, whose examples may reach its "
        "customers (false: `vouch check` and `vouch run` refuse while an example is left)",
    )


class Server(Section):
    host: str = Field("127.0.0.1", description="an interface address to listen on")
    port: int = Field(8080, ge=0, le=65535, description="an integer 0-65535 (0: any free port)")
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, le=16 * 1024 * 1024, description="a size in bytes, 1024-16777216"
    )
    public_rate_per_minute: int = Field(
        60, ge=1, le=100_000, description="requests a minute per address to /s/, /u/, /r/ pages"
    )
    public_burst: int = Field(
        30, ge=1, le=100_000, description="requests at once per address to the public pages"
    )
    trusted_proxies: list[str] = Field(
        [], description='proxy addresses whose X-Forwarded-For is believed, e.g. ["127.0.0.1"]'
    )


class Store(Section):
    """Where the business's data lives: one SQLite file (the default), or a PostgreSQL
    database several processes and machines can share (`url`)."""

    path: Path = Field(Path("var/vouch.sqlite3"), description="a path to the SQLite file")
    url: str | None = Field(
        None,
        description='a PostgreSQL URL without its password, e.g. "postgresql://vouch@db/vouch"',
    )
    password_env: EnvName | None = Field(
        None, description="the environment variable that holds the PostgreSQL password"
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ValueError('a URL such as "postgresql://vouch@localhost:5432/vouch"')
        if parts.password is not None:
            raise ValueError(
                "holds a password: remove it and name its environment variable in "
                "store.password_env (secrets never go in this file)"
            )
        return value


class SecretNames(Section):
    """Where the secrets live: names of environment variables, never the values."""

    api_token_env: EnvName = Field(
        "VOUCH_API_TOKEN",
        description="the name of the environment variable holding the admin token",
    )
    signing_key_env: EnvName = Field(
        "VOUCH_SECRET_KEY",
        description="the name of the environment variable holding the key that signs links",
    )
    old_signing_keys_env: EnvName | None = Field(
        None,
        description="the name of an environment variable holding retired signing keys, "
        "comma-separated (links signed with them keep working)",
    )
    dashboard_password_env: EnvName | None = Field(
        None,
        description="the name of the environment variable holding the owner's password for "
        "the dashboard at /admin (unset: the dashboard is off)",
    )


class SendWindowSettings(Section):
    """When customers may receive a survey, in their own time zone."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        ["mon", "tue", "wed", "thu", "fri"],
        min_length=1,
        description='a list of days such as ["mon", "tue", "wed", "thu", "fri"]',
    )
    start: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description='a time "HH:MM"')
    end: str = Field("18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description='a time "HH:MM"')

    @model_validator(mode="after")
    def _ordered(self) -> SendWindowSettings:
        if self.start >= self.end:
            raise ValueError(
                f"start ({self.start}) must come before end ({self.end}) on the same day"
            )
        return self

    def window(self) -> SendWindow:
        order = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        return SendWindow(
            days=frozenset(order.index(day) for day in self.days),
            start=time.fromisoformat(self.start),
            end=time.fromisoformat(self.end),
        )


class Answers(Section):
    """How survey answers are taken."""

    click_confirm_seconds: float = Field(
        15,
        ge=1,
        le=600,
        description="seconds, 1-600: a score clicked in an email counts once no other score "
        "was clicked for the same survey within this time (link scanners click them all)",
    )


class Recovery(Section):
    """Service recovery for detractors."""

    we_hear_you: bool = Field(
        True, description='true or false: send the detractor a short "we hear you" email'
    )


class Maildir(Section):
    path: Path = Field(Path("var/maildir"), description="a directory for outgoing .eml files")


class Smtp(Section):
    host: str = Field(min_length=1, description="the SMTP server's host name")
    port: int = Field(587, ge=1, le=65535, description="an integer 1-65535")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description='one of "starttls", "tls" (implicit TLS, port 465) or "none"'
    )
    username: str | None = Field(None, description="the SMTP login name")
    password_env: EnvName | None = Field(
        None, description="the name of the environment variable holding the SMTP password"
    )
    ca_file: Path | None = Field(None, description="a PEM file of certificate authorities to trust")
    timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="seconds, more than 0 and at most 600"
    )
    connections: int = Field(4, ge=1, le=64, description="an integer 1-64 (reused connections)")
    rate_per_minute: int = Field(
        0, ge=0, description="messages per minute, 0 for no limit (a whole number)"
    )

    @model_validator(mode="after")
    def _login_pair(self) -> Smtp:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together: set both or neither")
        return self


_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_LABELS = rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$"  # one or more, dotted


class Dkim(Section):
    """DKIM signatures on every outgoing email (`vouch check --deliverability` shows the DNS)."""

    selector: str = Field(
        pattern=_DNS_LABELS, max_length=63, description='a DNS label such as "vouch2026"'
    )
    key_file: Path = Field(description="a PEM RSA private key file, e.g. dkim/vouch.pem")
    domain: str | None = Field(
        None,
        pattern=_DNS_LABELS,
        max_length=253,
        description="the signing domain (default: the business email's domain)",
    )


class Voice(Section):
    """Who an email comes from and how it is signed: a person writing, not a system."""

    name: OneLine | None = Field(
        None,
        min_length=1,
        max_length=80,
        description='the From name, e.g. "Mike at Acme" (default: the business name)',
    )
    signature: FreeText | None = Field(
        None,
        min_length=1,
        max_length=400,
        description='the lines that sign the email, e.g. "Mike Lee\\nOwner" (default: none)',
    )


LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
LOGO_MAX_BYTES = 200_000


class Voices(Voice):
    """[email.voice]: the voice of every email to customers, advocates, friends and partners
    (the owner's own alerts and digests keep the business name, unsigned), one kind's own in
    [email.voice.kinds.KIND], and the logo at the top of the HTML emails."""

    kinds: dict[str, Voice] = Field(
        default_factory=dict, description="a table per email kind, e.g. [email.voice.kinds.survey]"
    )
    logo: Path | None = Field(
        None,
        description="an image file beside config.toml (PNG, JPEG or GIF, at most 200 KB), "
        "shown at the top of HTML emails from public_url/brand/logo",
    )


class EmailSettings(Section):
    transport: Literal["maildir", "smtp"] = Field(
        "maildir", description='"maildir" (write .eml files) or "smtp"'
    )
    message_id_domain: str | None = Field(
        None, description="a domain for Message-ID headers (default: the business email's domain)"
    )
    maildir: Maildir = Maildir()
    smtp: Smtp | None = None
    dkim: Dkim | None = None
    voice: Voices = Voices()

    @model_validator(mode="after")
    def _smtp_needs_section(self) -> EmailSettings:
        if self.transport == "smtp" and self.smtp is None:
            raise ValueError('transport is "smtp" but there is no [email.smtp] table')
        return self


class Sender(Section):
    max_attempts: int = Field(8, ge=1, le=100, description="an integer 1-100")
    backoff_base_seconds: float = Field(30.0, gt=0, description="seconds, more than 0")
    backoff_max_seconds: float = Field(3600.0, gt=0, description="seconds, more than 0")
    lease_seconds: float = Field(300.0, ge=10, description="seconds, at least 10")
    planner_lease_seconds: float = Field(
        30.0, ge=5, le=600, description="seconds 5-600 (planning moves on when its holder dies)"
    )
    max_in_flight: int = Field(64, ge=1, le=1000, description="an integer 1-1000")
    poll_seconds: float = Field(1.0, gt=0, le=60, description="seconds, more than 0 and at most 60")
    instance: str = Field(
        "default", min_length=1, max_length=64, description="a name for this daemon's outbox leases"
    )
    pause_after_refusals: int = Field(
        3, ge=2, le=100, description="an integer 2-100 (different recipients refused alike)"
    )
    probe_seconds: float = Field(
        300.0, gt=0, description="seconds, more than 0 (the first wait before a probe)"
    )


class Material(Section):
    file: Path = Field(description="a file to attach to referral asks, e.g. materials/brochure.pdf")
    name: str | None = Field(None, max_length=120, description="the name the promoter sees")
    example: bool = Field(
        False, description="true or false: an example from the demo business, to replace"
    )


class Link(Section):
    title: str = Field(min_length=1, max_length=120, description="the link's text")
    url: Url = Field(description="an http(s) URL")
    example: bool = Field(
        False, description="true or false: an example from the demo business, to replace"
    )


class Incentive(Section):
    text: str | None = Field(
        None, max_length=400, description="the incentive in plain words, one or two sentences"
    )
    choices: list[str] = Field(
        [], max_length=10, description='a list of rewards the advocate may choose, e.g. ["…", "…"]'
    )
    example: bool = Field(
        False, description="true or false: an example from the demo business, to replace"
    )


class RewardSettings(Section):
    kind: Literal["generated", "pool", "choice"] = Field(
        "generated",
        description='"generated" (a code made by Vouch), "pool" (codes you load) or "choice" '
        "(the gift the advocate chose from the incentive's choices: a code only for "
        "voucher_choices, the others are yours to give)",
    )
    voucher_choices: list[str] = Field(
        [],
        max_length=10,
        description='with kind = "choice", the choices that are vouchers, issued with a code '
        'made by Vouch, e.g. ["a £50 voucher"]',
    )
    description: str = Field(
        "a thank-you voucher", min_length=1, max_length=200, description="the reward in plain words"
    )
    code_prefix: str = Field(
        "THANKS-", pattern=r"^[A-Z0-9-]{0,12}$", description="capitals, digits and -, 0-12 long"
    )
    approval: bool = Field(
        False, description="true or false: hold each reward until you approve it"
    )
    example: bool = Field(
        False, description="true or false: an example from the demo business, to replace"
    )


class FriendOffer(Section):
    """Something for the referred friend too, e.g. 10% off their first job, with its own code
    (one per advocate, so a purchase that carries it credits that advocate's referral)."""

    text: OneLine | None = Field(
        None,
        min_length=1,
        max_length=200,
        description='the offer in your own words, e.g. "10% off your first job"',
    )
    percent_off: float | None = Field(
        None, gt=0, le=100, description="a percentage off, more than 0, at most 100"
    )
    amount_off: float | None = Field(
        None, gt=0, le=1_000_000, description="an amount off in your currency, more than 0"
    )
    code_prefix: str = Field(
        "FRIEND-", pattern=r"^[A-Z0-9-]{0,12}$", description="capitals, digits and -, 0-12 long"
    )

    @model_validator(mode="after")
    def _something(self) -> FriendOffer:
        if self.percent_off is not None and self.amount_off is not None:
            raise ValueError("give percent_off or amount_off, not both")
        if self.text is None and self.percent_off is None and self.amount_off is None:
            raise ValueError(
                'say what the friend gets: text (e.g. "10% off your first job"), '
                "percent_off or amount_off"
            )
        return self


class Offer(Section):
    """One incentive in an offer test (`[[referrals.offers]]`); the first listed is the control."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        description='a short name such as "voucher50" (lower-case letters, digits, - and _)',
    )
    text: str = Field(
        min_length=1, max_length=400, description="the incentive in plain words, as the ask says it"
    )
    reward: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="what a won referral earns, in plain words (default: reward.description)",
    )
    choices: list[str] = Field(
        [], max_length=10, description='gifts the advocate may choose between, e.g. ["…", "…"]'
    )
    retired: bool = Field(
        False, description="true or false: no new advocate gets it; those who have it keep it"
    )
    friend: FriendOffer | None = Field(
        None,
        description="what the friends of this offer's advocates get, in place of "
        "[referrals.friend_offer] (its code_prefix is the one used)",
    )
    example: bool = Field(
        False, description="true or false: an example from the demo business, to replace"
    )


class InfluenceSettings(Section):
    """What makes a customer influential, beyond the owner's mark and their history."""

    tags: dict[str, Annotated[float, Field(ge=0, le=10)]] = Field(
        {}, description='customer tags and what each adds, 0-10, e.g. { "board-member" = 3 }'
    )


class Referrals(Section):
    cool_down_days: float = Field(60, ge=0, le=3650, description="days between two asks, 0-3650")
    yearly_cap: int = Field(3, ge=0, le=52, description="asks a customer gets in 12 months, 0-52")
    score_window_days: float = Field(
        180, ge=1, le=3650, description="days a score counts as recent, 1-3650"
    )
    ask_delay_days: float = Field(
        1, ge=0, le=60, description="days between the moment and the ask, 0-60"
    )
    introductions_per_hour: int = Field(
        10, ge=1, le=1000, description="introduce-a-friend forms one advocate may send an hour"
    )
    min_stage: Stage | None = Field(
        None,
        description="a life-cycle stage: "
        + ", ".join(f'"{stage}"' for stage in Stage)
        + " (only customers at it or beyond are asked)",
    )
    incentive: Incentive = Incentive()
    reward: RewardSettings = RewardSettings()
    materials: list[Material] = Field([], max_length=10, description="files to attach")
    links: list[Link] = Field([], max_length=10, description="links to show")
    offers: list[Offer] = Field(
        [], max_length=20, description="incentives to test against each other, the control first"
    )
    influence: InfluenceSettings = InfluenceSettings()
    daily_ask_cap: int | None = Field(
        None, ge=1, le=100_000, description="asks sent a day at most, the most influential first"
    )
    moment_life_days: float = Field(
        14, ge=1, le=365, description="days an ask held back by daily_ask_cap may still go, 1-365"
    )
    attribution: Literal["auto", "confirm", "off"] = Field(
        "off",
        description='"auto" (a referred friend\'s purchase marks the referral won), "confirm" '
        '(it waits for the owner\'s click) or "off"',
    )
    attribution_window_days: float = Field(
        180, ge=1, le=3650, description="the days after an introduction a purchase credits, 1-3650"
    )
    friend_offer: FriendOffer | None = Field(
        None, description="what a referred friend gets, e.g. 10% off their first job (off: unset)"
    )
    reopen_days: float = Field(
        7,
        ge=0,
        le=90,
        description="days after a referral is marked won or lost that the dashboard may reopen "
        "it (a mistake), 0-90",
    )

    @model_validator(mode="after")
    def _offers(self) -> Referrals:
        if not self.offers:
            return self
        if self.incentive.text or self.incentive.choices:
            raise ValueError(
                "[referrals.incentive] and [[referrals.offers]] are both set: with offers, "
                "give each offer its own text (and choices)"
            )
        ids = [offer.id for offer in self.offers]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"offer ids must differ: {', '.join(twice)} appears more than once")
        if all(offer.retired for offer in self.offers):
            raise ValueError("every offer is retired: keep at least one open for new advocates")
        return self


class ReviewSite(Section):
    name: OneLine = Field(
        min_length=1, max_length=60, description='the site\'s name on one line, e.g. "Google"'
    )
    url: Url = Field(description="an http(s) URL: your page on the site, where a review is written")
    example: bool = Field(
        False, description="true or false: an example from the demo business, to replace"
    )


class Reviews(Section):
    """Where the owner's customers may review the business publicly."""

    sites: list[ReviewSite] = Field(
        [], max_length=10, description="up to 10 [[reviews.sites]] tables"
    )
    ask: bool = Field(
        False,
        description="true or false: email each promoter a review ask listing the "
        "[[reviews.sites]] (off by default)",
    )
    ask_delay_days: float = Field(
        3, ge=0, le=60, description="days between a promoter's answer and the review ask, 0-60"
    )
    ask_cool_down_days: float = Field(
        365,
        ge=1,
        le=3650,
        description="days between two review asks to one customer, 1-3650 (referral asks "
        "keep their own cool-down)",
    )

    @model_validator(mode="after")
    def _ask_needs_sites(self) -> Reviews:
        if self.ask and not self.sites:
            raise ValueError(
                "ask = true needs the sites to ask for: add at least one [[reviews.sites]] "
                "(a name and url), or set ask = false"
            )
        return self


class Thanks(Section):
    """What the thank-you page after a promoter's answer offers them (never to the others)."""

    reviews: bool = Field(True, description="true or false: link the [[reviews.sites]]")
    share: bool = Field(
        True, description="true or false: show the promoter's referral link, to share or show"
    )


class Inbound(Section):
    """Replies to Vouch emails: by POST /v1/inbound always, by SMTP when enabled here."""

    smtp: bool = Field(False, description="true or false: listen for replies by SMTP")
    host: str = Field("127.0.0.1", description="the interface the SMTP listener uses")
    port: int = Field(2525, ge=0, le=65535, description="an integer 0-65535")
    max_bytes: int = Field(
        1_000_000, ge=10_000, le=50_000_000, description="the largest reply accepted, in bytes"
    )


class Integrations(Section):
    """Shops and payment platforms that report purchases by signed webhook."""

    stripe_secret_env: EnvName | None = Field(
        None, description="the name of the environment variable holding Stripe's signing secret"
    )
    stripe_tolerance_seconds: int = Field(
        300, ge=30, le=3600, description="seconds a Stripe signature stays valid, 30-3600"
    )
    shopify_secret_env: EnvName | None = Field(
        None, description="the name of the environment variable holding Shopify's webhook secret"
    )


class Bounces(Section):
    """Bounces and complaints that come back as mail (DSNs, ARF reports) by the inbound paths."""

    soft_limit: int = Field(
        3, ge=1, le=100, description="an integer 1-100 (soft bounces before suppressing)"
    )


WebhookEvent = Literal[
    "response.recorded",
    "complaint.opened",
    "referral.created",
    "referral.status_changed",
    "reward.issued",
]
WEBHOOK_EVENTS: tuple[str, ...] = get_args(WebhookEvent)


class Webhook(Section):
    """An owner's endpoint that hears of what happens, by signed HTTP POST (owner/webhooks.py)."""

    url: Url = Field(description='the endpoint\'s http(s) URL, e.g. "https://crm.example/vouch"')
    events: list[WebhookEvent] = Field(
        min_length=1,
        description="a list of one or more events, from: "
        + ", ".join(f'"{e}"' for e in WEBHOOK_EVENTS),
    )
    secret_env: EnvName = Field(
        description="the name of the environment variable holding the signing secret"
    )
    timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="seconds to wait for the endpoint, more than 0, at most 60"
    )


class Digest(Section):
    """The owner's digest email: what happened in the last day or week, and what to do."""

    every: Literal["daily", "weekly", "off"] = Field(
        "off", description='"daily", "weekly" or "off"'
    )
    at: str = Field(
        "08:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description='a time "HH:MM" in the business time zone',
    )
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", description='the day a weekly digest comes, e.g. "mon"'
    )


class ImportSettings(Section):
    """How `vouch import` reads the owner's CSV files."""

    date_format: Literal["iso", "MM/DD/YYYY", "DD/MM/YYYY"] = Field(
        "iso",
        description='how dates are written in your CSV files: "iso" (2026-03-01), "MM/DD/YYYY" '
        'or "DD/MM/YYYY"',
    )


class Settings(Section):
    business: Business
    server: Server = Server()
    store: Store = Store()
    secrets: SecretNames = SecretNames()
    email: EmailSettings = EmailSettings()
    sender: Sender = Sender()
    send_window: SendWindowSettings = SendWindowSettings()
    answers: Answers = Answers()
    recovery: Recovery = Recovery()
    referrals: Referrals = Referrals()
    integrations: Integrations = Integrations()
    inbound: Inbound = Inbound()
    bounces: Bounces = Bounces()
    webhooks: list[Webhook] = Field([], max_length=20, description="up to 20 [[webhooks]] tables")
    digest: Digest = Digest()
    reviews: Reviews = Reviews()
    thanks: Thanks = Thanks()
    import_: ImportSettings = Field(ImportSettings(), alias="import")


@dataclass(frozen=True)
class Secrets:
    api_token: str | None
    smtp_password: str | None
    signing_keys: tuple[str, ...] = ()  # the first signs; all verify
    stripe_secret: str | None = None
    shopify_secret: str | None = None
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)  # by endpoint URL
    dashboard_password: str | None = None
    store_password: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything the daemon needs, resolved: settings, absolute paths, secrets."""

    path: Path
    settings: Settings
    secrets: Secrets
    surveys: Mapping[str, Survey]
    words: PageWords  # the public pages' words, the owner's over the shipped
    education: Education | None = None
    dkim: DkimSigner | None = None  # [email.dkim], its key loaded once

    @property
    def root(self) -> Path:
        return self.path.parent

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.root / path)

    @property
    def store_path(self) -> Path:
        return self.resolve(self.settings.store.path)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates" / "email"

    @property
    def money(self) -> Money:
        """How this business writes an amount: its currency, in its locale."""
        return money_in(self.settings.business.currency, self.settings.business.locale)

    @property
    def message_id_domain(self) -> str:
        return (
            self.settings.email.message_id_domain or self.settings.business.email.rsplit("@", 1)[1]
        )


def load_config(path: Path, environ: Mapping[str, str], *, need_secrets: bool = False) -> Config:
    """Read, validate and resolve config.toml; raise ConfigError listing every problem.

    need_secrets: the caller serves or sends (`vouch run`, `vouch check`), so a missing or
    too-short secret is a problem now rather than a surprise later.
    """
    path = path.resolve()
    label = path.name
    raw, problems = read_toml(path, label)
    if raw is None:
        raise ConfigError(problems)
    dkim: DkimSigner | None = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems += validation_problems(exc, Settings, label)
    else:
        for n, material in enumerate(settings.referrals.materials):
            if not (path.parent / material.file).is_file():
                problems.append(
                    Problem(
                        label, f"referrals.materials.{n}.file", f"file not found: {material.file}"
                    )
                )
        problems += _logo_problems(settings.email.voice.logo, path.parent, label)
        if (dkim_settings := settings.email.dkim) is not None:
            try:
                dkim = DkimSigner.load(
                    path.parent / dkim_settings.key_file,
                    domain=dkim_settings.domain or settings.business.email.rsplit("@", 1)[1],
                    selector=dkim_settings.selector,
                )
            except DkimKeyError as exc:
                problems.append(Problem(label, "email.dkim.key_file", str(exc)))
        seen: set[str] = set()
        for n, hook in enumerate(settings.webhooks):
            if hook.url in seen:
                problems.append(
                    Problem(label, f"webhooks.{n}.url", f"{hook.url} is listed twice; list once")
                )
            seen.add(hook.url)
        problems += _reward_problems(settings.referrals, label)
    surveys, survey_problems = load_surveys(path.parent / "surveys", path.parent)
    problems += survey_problems
    education, education_problems = load_education(path.parent)
    problems += education_problems
    words, word_problems = load_words(path.parent, shipped())
    problems += word_problems
    if problems:
        raise ConfigError(problems)

    secrets = Secrets(
        api_token=environ.get(settings.secrets.api_token_env) or None,
        smtp_password=(
            environ.get(settings.email.smtp.password_env) or None
            if settings.email.smtp and settings.email.smtp.password_env
            else None
        ),
        signing_keys=_signing_keys(settings.secrets, environ),
        stripe_secret=_optional(environ, settings.integrations.stripe_secret_env),
        shopify_secret=_optional(environ, settings.integrations.shopify_secret_env),
        webhook_secrets={
            hook.url: secret
            for hook in settings.webhooks
            if (secret := _optional(environ, hook.secret_env))
        },
        dashboard_password=_optional(environ, settings.secrets.dashboard_password_env),
        store_password=_optional(environ, settings.store.password_env),
    )
    if need_secrets:
        problems += _secret_problems(settings, secrets, label)
    if problems:
        raise ConfigError(problems)
    return Config(
        path=path,
        settings=settings,
        secrets=secrets,
        surveys=surveys,
        words=words,
        dkim=dkim,
        education=education,
    )


EXAMPLE = (
    "an example from the demo business: replace it with your own or delete it, "
    "or remove example = true to keep it"
)


def example_problems(config: Config) -> list[Problem]:
    """What the demo business wrote that would still reach customers (each marked `example =
    true` in the shipped files), so a new business does not send Harbor Lane's brochure, links
    and incentive. Empty for the demo itself (business.demo); with no asks at all
    (referrals.yearly_cap = 0) only the review sites and the education page count: the
    thank-you page links the sites (unless thanks.reviews = false), and /r/{code}/learn serves
    the page to partners' codes as well as advocates'."""
    if config.settings.business.demo:
        return []
    label = config.path.name
    referrals = config.settings.referrals
    found: list[tuple[str, str, bool]] = []
    if referrals.yearly_cap > 0:
        found += [
            (f"referrals.materials[{n}] ({m.file.name})", label, m.example)
            for n, m in enumerate(referrals.materials)
        ]
        found += [
            (f"referrals.links[{n}] ({link.url})", label, link.example)
            for n, link in enumerate(referrals.links)
        ]
        found += [
            (f"referrals.offers[{n}] ({offer.id})", label, offer.example)
            for n, offer in enumerate(referrals.offers)
        ]
        found.append(("referrals.incentive", label, referrals.incentive.example))
        found.append(("referrals.reward", label, referrals.reward.example))
    if config.settings.thanks.reviews or config.settings.reviews.ask:
        found += [
            (f"reviews.sites[{n}] ({site.url})", label, site.example)
            for n, site in enumerate(config.settings.reviews.sites)
        ]
    if config.education is not None:
        found.append(("example", EDUCATION_FILE.as_posix(), config.education.example))
    return [Problem(file, key, EXAMPLE) for key, file, example in found if example]


def _logo_problems(logo: Path | None, root: Path, label: str) -> list[Problem]:
    """A logo the emails can show: an image file of a kind mail apps display, small enough."""
    if logo is None:
        return []
    key, path = "email.voice.logo", root / logo
    if logo.suffix.lower() not in LOGO_TYPES:
        return [Problem(label, key, f"{logo}: a PNG, JPEG or GIF file (.png, .jpg, .gif)")]
    if not path.is_file():
        return [Problem(label, key, f"file not found: {logo}")]
    if (size := path.stat().st_size) > LOGO_MAX_BYTES:
        return [Problem(label, key, f"{logo} is {size:,} bytes; at most {LOGO_MAX_BYTES:,}")]
    return []


def _reward_problems(referrals: Referrals, label: str) -> list[Problem]:
    """The choices offered and the reward kind must agree, or an advocate who chose a donation
    would be sent a voucher code."""
    reward = referrals.reward
    offered = [*referrals.incentive.choices, *(c for o in referrals.offers for c in o.choices)]
    if offered and reward.kind != "choice":
        return [
            Problem(
                label,
                "referrals.reward.kind",
                f'"{reward.kind}" issues a code whatever the advocate chooses, but a choice is '
                f'offered ({", ".join(offered)}): use "choice" and list the vouchers in '
                "referrals.reward.voucher_choices, or offer no choices",
            )
        ]
    if reward.voucher_choices and reward.kind != "choice":
        return [
            Problem(
                label,
                "referrals.reward.voucher_choices",
                f'only with kind = "choice" (kind is "{reward.kind}")',
            )
        ]
    earnable = {*offered, reward.description, *(o.reward for o in referrals.offers if o.reward)}
    return [
        Problem(
            label,
            "referrals.reward.voucher_choices",
            f"{voucher!r} is not offered: write it exactly as in the choices "
            f"({', '.join(offered) or 'none offered'})",
        )
        for voucher in reward.voucher_choices
        if voucher not in earnable
    ]


def _secret_problems(settings: Settings, secrets: Secrets, label: str) -> list[Problem]:
    problems = []
    for key, value in (
        ("api_token_env", secrets.api_token),
        ("signing_key_env", secrets.signing_keys[0] if secrets.signing_keys else None),
    ):
        name = getattr(settings.secrets, key)
        if value is None:
            problems.append(
                Problem(label, f"secrets.{key}", f"environment variable {name} is not set")
            )
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(
                Problem(
                    label,
                    f"secrets.{key}",
                    f"environment variable {name} must hold at least {MIN_SECRET_LENGTH} "
                    "characters",
                )
            )
    if (store := settings.store.password_env) is not None and secrets.store_password is None:
        message = f"environment variable {store} is not set (the PostgreSQL password)"
        problems.append(Problem(label, "store.password_env", message))
    for n, hook in enumerate(settings.webhooks):
        secret = secrets.webhook_secrets.get(hook.url)
        if secret is None or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                Problem(
                    label,
                    f"webhooks.{n}.secret_env",
                    f"environment variable {hook.secret_env} must be set to at least "
                    f"{MIN_SECRET_LENGTH} characters",
                )
            )
    password = secrets.dashboard_password
    if password is not None and len(password) < MIN_SECRET_LENGTH:
        problems.append(
            Problem(
                label,
                "secrets.dashboard_password_env",
                f"environment variable {settings.secrets.dashboard_password_env} must hold at "
                f"least {MIN_SECRET_LENGTH} characters",
            )
        )
    smtp = settings.email.smtp
    if (
        settings.email.transport == "smtp"
        and smtp
        and smtp.password_env
        and not secrets.smtp_password
    ):
        problems.append(
            Problem(
                label,
                "email.smtp.password_env",
                f"environment variable {smtp.password_env} is not set",
            )
        )
    return problems


def _signing_keys(names: SecretNames, environ: Mapping[str, str]) -> tuple[str, ...]:
    current = environ.get(names.signing_key_env) or None
    old = environ.get(names.old_signing_keys_env, "") if names.old_signing_keys_env else ""
    retired = [key.strip() for key in old.split(",") if key.strip()]
    return tuple([current] if current else []) + tuple(retired)


def _optional(environ: Mapping[str, str], name: str | None) -> str | None:
    return (environ.get(name) or None) if name else None
