"""Email messages are built here and nowhere else: owner templates → subject, text, HTML → bytes.

Every email kind is a pair of owner-editable Jinja2 templates, `KIND.txt` (which also holds the
subject in `{% block subject %}`) and `KIND.html`, sharing `base.txt` / `base.html`. The result is
flattened RFC 5322 bytes (CRLF), ready for SMTP `sendmail` and stored in the outbox as they are.

Translations sit beside them: `KIND.fr.txt` and `KIND.fr.html`. A reader of "fr-CA" gets the
first pair that exists of fr-CA, fr, the business's own locale, else the unsuffixed pair; a kind
is translated as a pair or not at all, so an email never mixes two languages. Inside a
translation, `{% extends "base.html" %}` and `{% include "_scale.html" %}` find `base.fr.html`
and `_scale.fr.html` the same way, else the unsuffixed files. A variant that changes only a
block names its parent as `"default:KIND.txt"` (the unsuffixed file itself): `KIND.en-US.txt`
may extend it and say "favor" in its subject, and nothing else is copied.

The MIME envelope is written here rather than by `email.message.EmailMessage`: the stdlib builds
and flattens a message in ~2.5 ms (the daemon's first bottleneck), and its folder turns long ASCII
values such as List-Unsubscribe URLs into RFC 2047 encoded-words, which breaks them. The shape
written here is small and fixed: multipart/alternative, text/plain then text/html, both UTF-8 in
quoted-printable; with attachments, that alternative is the first part of a multipart/mixed and
each attachment follows in base64. Header text goes through `one_line` and non-ASCII text becomes
base64 encoded-words (RFC 2231 parameters for attachment filenames), so no value can ever start
a header of its own. The tests parse every shape back with the stdlib parser
(`email.policy.default`).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import traceback
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from jinja2.runtime import Context

from daemon.clock import Clock
from daemon.config import Config, Voice
from daemon.errors import ConfigError, Problem
from daemon.mail.locales import canonical, fallbacks, pick, split, suffixed
from daemon.money import money_in, percent_in
from daemon.store.rows import Job


@dataclass(frozen=True)
class Kind:
    """One email kind. `sample` holds exactly the variables the code passes, with believable values:
    `vouch check` and `vouch preview` render the owner's templates with it, and `render()` refuses a
    context with other names, so a template that passes the check cannot meet a surprise."""

    description: str
    sample: Mapping[str, object]
    owner: bool = False  # written to the owner: the business's name, unsigned ([email.voice])


#: a job as templates see it (Renderer.job); `check` renders these kinds with NO_JOB too
_SAMPLE_JOB = {"title": "Deck build", "product": None, "amount": "$12,500.00"}
NO_JOB = {"title": None, "product": None, "amount": None}

_SURVEY_SAMPLE: dict[str, object] = {
    "customer_name": "Sam",
    "question": "How likely are you to recommend Harbor Lane Renovations to a friend or colleague?",
    "low_label": "Not at all likely",
    "high_label": "Extremely likely",
    "scores": [
        {"score": n, "url": f"https://vouch.example.com/s/sample-token-{n}"} for n in range(11)
    ],
    "survey_url": "https://vouch.example.com/s/sample-token",
    "unsubscribe_url": "https://vouch.example.com/u/sample-token",
    # what the event said of the job; each may be None (the event did not say)
    "job": _SAMPLE_JOB,
}

#: Adding a kind: one entry here, plus templates/email/KIND.html and KIND.txt.
KINDS: dict[str, Kind] = {
    "test": Kind(
        "what `vouch send-test ADDRESS` sends, to show that the mail transport works",
        {"recipient": "sam@example.com", "sent_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC)},
    ),
    "survey": Kind("the survey: the question and eleven one-click scores", _SURVEY_SAMPLE),
    "reminder": Kind("the one reminder to a customer who has not answered", _SURVEY_SAMPLE),
    "owner_alert": Kind(
        "to the owner at once when a customer answers 0-6",
        {
            "customer": {"name": "Sam Sample", "email": "sam@example.com"},
            "score": 3,
            "comment": "The crew left a mess and nobody called back.",
            "survey": "post_purchase",
            "answered_at": datetime(2026, 3, 5, 14, 10, tzinfo=UTC),
            "history": [
                {"at": datetime(2026, 3, 5, 14, 10, tzinfo=UTC), "what": "answered 3 (detractor)"},
                {"at": datetime(2026, 3, 4, 9, 0, tzinfo=UTC), "what": "survey post_purchase sent"},
                {"at": datetime(2026, 3, 1, 16, 0, tzinfo=UTC), "what": "event purchase.completed"},
            ],
            "complaint_id": 12,
            "link": "https://reviews.example.com/admin/customers/3f2c9a1b7d5e4f60a8b1c2d3e4f5a6b7",
            "resolve_command": "vouch resolve 12 --note 'called, fixed'",
        },
        owner=True,
    ),
    "we_hear_you": Kind(
        "a short, human note to a detractor (recovery.we_hear_you)",
        {"customer_name": "Sam", "unsubscribe_url": "https://vouch.example.com/u/sample-token"},
    ),
    "public_confirm": Kind(
        "to a customer whose address was typed on a survey's public link: confirm the answer",
        {
            "customer_name": "Sam",
            "survey_question": "How likely are you to recommend Harbor Lane Renovations?",
            "score": 9,
            "confirm_url": "https://vouch.example.com/p/c/sample-token",
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
        },
    ),
    "referral_ask": Kind(
        "the referral ask to a promoter at a moment: the personal link, the incentive, materials",
        {
            "customer_name": "Sam",
            # "project_completed", "testimonial", "referral_won" or "survey_answer"
            "moment": "project_completed",
            "referral_url": "https://vouch.example.com/r/sam-k3x9q",
            "introduce_url": "https://vouch.example.com/r/sam-k3x9q/introduce",
            "education_url": "https://harborlane.example/recommending-us",  # or None
            "incentive": (  # or None
                "As a thank-you, we give you a £50 voucher for every friend who becomes a client."
            ),
            "incentive_choices": ["a £50 voucher", "£50 to the Harbour Food Bank"],  # maybe []
            "materials": [  # the attachments' names
                {"name": "Harbor Lane Renovations brochure 2026.pdf"},
                {"name": "Harbor Lane Renovations.vcf"},
            ],
            "links": [
                {"title": "Our recent projects", "url": "https://harborlane.example/projects"},
                {"title": "What our clients say", "url": "https://harborlane.example/reviews"},
            ],
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
            # the completed project's job (the moment's event), each None when not said
            "job": _SAMPLE_JOB,
        },
    ),
    "review_ask": Kind(
        "a review ask to a promoter some days after their answer ([reviews] ask = true): "
        "the owner's review sites, each link through Vouch so the owner sees the clicks",
        {
            "customer_name": "Sam",  # or None
            "sites": [  # the [[reviews.sites]], at least one
                {"name": "Google", "url": "https://vouch.example.com/review/sample-token-0"},
                {"name": "Houzz", "url": "https://vouch.example.com/review/sample-token-1"},
            ],
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
        },
    ),
    "advocate_thanks": Kind(
        "to the advocate at once after they introduce a friend: thanks and what happens next",
        {
            "customer_name": "Sam",
            "friend_name": "Alex Morgan",  # or None
            "expects_contact": True,
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
        },
    ),
    "friend_note": Kind(
        "a short personal note to a referred friend who agreed to be contacted",
        {
            "friend_name": "Alex",  # or None
            "advocate_name": "Sam Carter",
            "need": "A new kitchen, ideally before the summer.",  # or None
            "friend_offer": {  # or None: [referrals.friend_offer], with the advocate's code
                "text": None,  # the offer in the owner's words, or None: then one of
                "percent_off": 10.0,  # a percentage ({{ o.percent_off|percent }}: "10%")
                "amount_off": None,  # or an amount ({{ o.amount_off|money }}: "£50.00")
                "code": "FRIEND-7QK2M9XA",
            },
            "unsubscribe_url": "https://vouch.example.com/u/sample-friend-token",
        },
    ),
    "owner_referral": Kind(
        "to the owner at once when an advocate introduces a friend",
        {
            "advocate": {"name": "Sam Carter", "email": "sam@example.com"},
            "friend": {"name": "Alex Morgan", "email": "alex@example.net", "phone": "07700 900123"},
            "need": "A new kitchen, ideally before the summer.",  # need, timing, relationship:
            "timing": "Within the next three months",  # each may be None
            "relationship": "Neighbour",
            "expects_contact": True,
            "advocate_introduces": False,
            "grade": "B",  # "A", "B" or "C"
            "flag": None,  # or why it may be a self-referral
            "referral_id": "r_8f3k2m9x",
            "link": "https://reviews.example.com/admin/referrals/r_8f3k2m9x",
            "status_command": "vouch referral r_8f3k2m9x contacted",
        },
        owner=True,
    ),
    "advocate_update": Kind(
        "news to the advocate as their referral moves: contacted, meeting, lost",
        {
            "customer_name": "Sam",
            "friend_name": "Alex Morgan",  # or None
            "status": "contacted",  # "contacted", "meeting" or "lost"
            # the owner's words, or None
            "note": "Alex and I had a good chat on the phone this morning.",
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
        },
    ),
    "advocate_reward": Kind(
        "to the advocate when their referral became business: thanks and the reward",
        {
            "customer_name": "Sam",
            "friend_name": "Alex Morgan",  # or None
            "reward": "a £50 voucher",
            "reward_code": "HARBOR-7Q2M-50",  # or None
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
        },
    ),
    "partner_intro_ask": Kind(
        "to a partner who joined an organization: a short note asking to be introduced there",
        {
            "contact_name": "Dana",  # the partner's contact, first name, or None
            "partner_name": "Harbor Physio",  # the partner's business
            "organization": "Harbour Health Centre",
            "referral_url": "https://vouch.example.com/r/p-k3x9q",
            "introduce_url": "https://vouch.example.com/r/p-k3x9q/introduce",
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
        },
    ),
    "partner_thanks": Kind(
        "to a partner (who takes no reward) when the client they sent became business",
        {
            "contact_name": "Dana",  # or None
            "partner_name": "Harbor Physio",
            "friend_name": "Alex Morgan",  # or None
            "note": "Alex loves the new kitchen.",  # the owner's words, or None
            "unsubscribe_url": "https://vouch.example.com/u/sample-token",
        },
    ),
    "owner_digest": Kind(
        "to the owner once a day or week ([digest]): answers and NPS, complaints, referrals, "
        "rewards to send, thank-you notes due",
        {
            "every": "weekly",  # or "daily"
            "period_start": datetime(2026, 3, 2, 8, 0, tzinfo=UTC),  # included
            "period_end": datetime(2026, 3, 9, 8, 0, tzinfo=UTC),  # not included
            "responses": {"count": 7, "promoters": 4, "passives": 2, "detractors": 1},
            "nps": 43,  # None without answers
            "previous_nps": 25,  # the period before; None without answers
            "nps_change": 18,  # None unless both are known
            "complaints": [  # open now, oldest first
                {
                    "customer": {"name": "Sam Sample", "email": "sam@example.com"},
                    "score": 3,
                    "comment": "The crew left a mess and nobody called back.",  # or None
                    "opened_at": datetime(2026, 3, 5, 14, 10, tzinfo=UTC),
                    "link": "https://reviews.example.com/admin/customers/3f2c9a1b7d5e4f60a8b1c2d3e4f5a6b7",
                    "resolve_command": "vouch resolve 12 --note '...'",
                }
            ],
            "referrals": [  # made in the period
                {
                    "friend": "Alex Morgan",
                    "advocate": "Sam Carter",
                    "grade": "B",
                    "need": "A new kitchen",  # need, timing, flag: each may be None
                    "timing": "Within the next three months",
                    "status": "contacted",
                    "flag": None,
                    "link": "https://reviews.example.com/admin/referrals/r_8f3k2m9x",
                }
            ],
            "rewards": [  # waiting for the owner
                {
                    "advocate": "Sam Carter",
                    "friend": "Alex Morgan",
                    "reward": "a £50 voucher",
                    "waiting_for": "your approval",  # or "a code from your pool"
                    "link": "https://reviews.example.com/admin/referrals/r_8f3k2m9x",
                    "command": "vouch reward approve r_8f3k2m9x",
                }
            ],
            "thank_you_notes": [  # advocates whose referral was won in the period
                {
                    "advocate": "Sam Carter",
                    "email": "sam@example.com",
                    "friend": "Alex Morgan",
                    "won_at": datetime(2026, 3, 6, 16, 0, tzinfo=UTC),
                    "value": 12500.0,  # or None
                }
            ],
            "public_thanks": [{"advocate": "Sam Carter", "referrals": 1}],  # they agreed to it
        },
        owner=True,
    ),
}

#: Variables every template gets besides its kind's own (`subject` only in the message bodies;
#: `locale`: the tag of the language the email is written in, such as "fr" or "en").
PROVIDED = ("business", "locale", "subject")

SAMPLE_TO = ("Sam Sample", "sam@example.com")  # the To of `vouch preview`


class TemplateError(ConfigError):
    """An owner's template failed to render; carries the file and line, like `vouch check` does."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str  # CSS inlined
    text: str
    message: bytes  # the flattened RFC 5322 message, CRLF line endings


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an email, such as the owner's brochure or vCard.

    Any filename is accepted: it is sent as `attachment_filename(filename)` shows. The content
    type must be a plain `type/subtype` without parameters, and neither multipart/* nor
    message/* (which base64 may not carry); anything else is a ValueError.
    """

    filename: str
    content_type: str
    data: bytes

    def __post_init__(self) -> None:
        kind, _, _ = self.content_type.partition("/")
        if not _MEDIA_TYPE.fullmatch(self.content_type) or kind.lower() in _COMPOSITE:
            raise ValueError(
                f"not a content type for an attachment: {self.content_type!r} "
                "(write type/subtype, such as application/pdf or text/vcard)"
            )


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BREAKING_SPACE = re.compile("[^\\S\u00a0\u202f]+")  # whitespace a line may break at
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_ADDRESS = re.compile(rf"{_ATEXT}@{_DOMAIN.pattern}")
_MESSAGE_ID = re.compile(rf"<{_ADDRESS.pattern}>")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# The headers render() writes, and those an extra header must never add.
_OWN_FIELDS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
_FOLD_AT = 76  # RFC 2047's limit for lines with encoded-words; within RFC 5322's 78
_LONGEST_WORD = 900  # RFC 5322 allows 998 characters a line
_CHUNK = 36  # UTF-8 bytes an encoded-word carries: 48 base64 characters, 60 in all
_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"  # RFC 6838 restricted-name
_MEDIA_TYPE = re.compile(f"{_NAME}/{_NAME}")
_COMPOSITE = frozenset({"multipart", "message"})
_FILENAME_BYTES = 200  # UTF-8 bytes of an attachment's filename: room in any file system's 255
_EXTENSION_BYTES = 16  # a longer "extension" is not kept when a filename is shortened
_PARAM_WIDTH = 56  # characters of a parameter value a line: lines stay within 76
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 2231 attribute-char besides letters and digits


def one_line(value: str) -> str:
    """Header-safe text: control characters dropped, all whitespace (CR, LF too) one space."""
    return " ".join(_CONTROL.sub(" ", value).split())


def attachment_filename(name: str) -> str:
    """The filename an attachment is sent under: one line, no control characters, no double
    quotes (they become '), backslashes or slashes (they become _), no angle brackets (they
    become parentheses: a reader strips `<...>` around a parameter, so "<>" arrived nameless),
    no leading or trailing dots and spaces, at most 200 bytes of UTF-8 keeping a short
    extension; "attachment" if empty."""
    name = name.replace('"', "'").replace("\\", "_").replace("/", "_")
    name = one_line(name.replace("<", "(").replace(">", ")")).strip(". ")
    if len(name.encode("utf-8")) > _FILENAME_BYTES:
        stem, extension = os.path.splitext(name)
        if len(extension.encode("utf-8")) > _EXTENSION_BYTES:
            stem, extension = name, ""
        keep = _FILENAME_BYTES - len(extension.encode("utf-8"))
        stem = stem.encode("utf-8")[:keep].decode("utf-8", "ignore").rstrip(". ")
        name = stem + extension
    return name or "attachment"


def new_message_id(domain: str) -> str:
    """A fresh, unguessable Message-ID such as `<Xb3…@harborlane.example>`."""
    return f"<{secrets.token_urlsafe(18)}@{_ascii_domain(domain)}>"


DEFAULT = "default:"  # `{% extends "default:survey.txt" %}`: the unsuffixed file, not a translation


class _Translated(jinja2.BaseLoader):
    """Loads NAME as its first translation that exists (`base.fr.html` for "base.html" and the
    tags ["fr-CA", "fr"]), else NAME itself: what a translated email extends or includes
    follows its language without the owner spelling it out."""

    def __init__(self, files: jinja2.FileSystemLoader, tags: list[str], names: frozenset[str]):
        self._files, self._tags, self._names = files, tags, names

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template.startswith(DEFAULT):
            return self._files.get_source(environment, template.removeprefix(DEFAULT))
        for tag in self._tags:
            if (name := suffixed(template, tag)) in self._names:
                return self._files.get_source(environment, name)
        return self._files.get_source(environment, template)


class Renderer:
    """Renders the owner's templates for one config; a config reload builds a new Renderer."""

    def __init__(self, config: Config, clock: Clock) -> None:
        business = config.settings.business
        self._business = business
        self._locale = canonical(business.locale)
        self._surveys = config.surveys
        self._clock = clock
        self._zone = ZoneInfo(business.timezone)
        self._root = config.root
        self._dir = str(config.templates_dir) + os.sep
        self._message_id_domain = config.message_id_domain
        self._files = jinja2.FileSystemLoader(config.templates_dir)
        directory = config.templates_dir
        self._names = frozenset(os.listdir(directory) if directory.is_dir() else ())
        self._envs: dict[str | None, jinja2.Environment] = {}  # by translation; None: default
        self._translated: dict[str, set[str]] = {}  # by kind
        self._inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
        self._voice = config.settings.email.voice
        self._config_file = config.path.name
        self._logo_url = (
            f"{business.public_url.rstrip('/')}/brand/logo" if self._voice.logo else None
        )
        self._from: dict[str, str] = {}  # by kind: its voice's name
        self._reply_to = (
            _address_header("Reply-To", business.name, business.reply_to)
            if business.reply_to
            else ""
        )
        self._pairs: dict[tuple[str, str | None], tuple[jinja2.Template, jinja2.Template]] = {}
        self._text_env = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            finalize=lambda value: "" if value is None else value,  # a job the event left out
        )
        self._money = money_in(business.currency, business.locale)
        #: each survey's question, filled in once per job (a bounded number kept)
        self._questions: dict[tuple[str, Job | None], str] = {}
        self._picked: dict[tuple[str, str | None], str | None] = {}  # (kind, locale) → tag

    def render(
        self,
        kind: str,
        context: Mapping[str, object],
        *,
        to_email: str,
        to_name: str | None = None,
        message_id: str,
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment] = (),
        locale: str | None = None,
    ) -> RenderedEmail:
        """Build one email, with the attachments (if any) after the text and HTML, in the
        language `language(kind, locale)` names (the reader's locale; None: the business's).
        Raises TemplateError for an owner's template mistake, ValueError for a caller's
        (unknown kind, context names other than the kind's sample, a bad address)."""
        subject, text, html = self.parts(kind, context, locale)
        message = self.envelope(
            kind,
            subject,
            quoted_printable(text),
            quoted_printable(html),
            to_email=to_email,
            to_name=to_name,
            message_id=message_id,
            headers=headers,
            attachments=attachments,
        )
        return RenderedEmail(subject, html, text, message)

    def parts(
        self, kind: str, context: Mapping[str, object], locale: str | None = None
    ) -> tuple[str, str, str]:
        """The subject, text and HTML (CSS inlined) of one email; raises as `render` does."""
        spec = _kind(kind)
        if context.keys() != spec.sample.keys():
            wanted, got = sorted(spec.sample), sorted(context)
            raise ValueError(f"the {kind!r} email takes the variables {wanted}, got {got}")
        tag = self._translation(kind, locale)
        pair = self._pairs.get((kind, tag))
        if pair is None:
            pair = (self._template(kind, "txt", tag), self._template(kind, "html", tag))
            self._pairs[kind, tag] = pair
        text_template, html_template = pair
        variables = self._variables(kind, context, tag)
        subject = self._subject(kind, text_template, variables)
        variables["subject"] = subject
        return (
            subject,
            self._body(kind, text_template, variables),
            self._body(kind, html_template, variables),
        )

    def survey_question(self, source: str, job: Job | None = None) -> str:
        """A survey's question (a Jinja2 string in surveys/*.toml) filled in, on one line;
        no-break spaces stay (French puts one before "?"). `job` is what the survey's event
        said of the job ({{ job.title }}, {{ job.product }}, {{ job.amount }}: empty when it
        did not say, so write `{{ job.title or "project" }}`)."""
        key = (source, job)
        question = self._questions.get(key)
        if question is None:
            if len(self._questions) >= 4096:
                self._questions.clear()
            text = self._text_env.from_string(source).render(
                business=self._business, job=self.job(job)
            )
            question = _BREAKING_SPACE.sub(" ", _CONTROL.sub(" ", text)).strip(" ")
            self._questions[key] = question
        return question

    def job(self, job: Job | None) -> dict[str, str | None]:
        """The job as templates see it: text, and the amount written in the business's
        currency; each None when the event did not say."""
        job = job or Job()
        amount = self._money(job.amount) if job.amount is not None else None
        return {"title": job.title, "product": job.product, "amount": amount}

    def language(self, kind: str, locale: str | None) -> str:
        """The locale a reader of `locale` gets `kind` in: the first of its fallbacks, then the
        business's, with both KIND.TAG.txt and KIND.TAG.html; else the business's own locale
        (the unsuffixed pair). Texts that go into the email, such as a survey's question,
        should be taken in this same locale."""
        return self._translation(kind, locale) or self._locale

    def translations(self, kind: str) -> list[str]:
        """The locales `kind` is translated into (both of its files exist), as named."""
        return sorted(self._translations(kind))

    def locales(self) -> list[str]:
        """The locales some email kind is translated into, as the template files name them."""
        return sorted({tag for kind in KINDS for tag in self._translations(kind)})

    def preview(self, kind: str, locale: str | None = None) -> RenderedEmail:
        """A kind rendered with its sample data, for `vouch preview`; a survey email shows the
        first survey's own question and labels in that language."""
        name, address = SAMPLE_TO
        sample = dict(_kind(kind).sample)
        if "question" in sample and self._surveys:
            words = next(iter(self._surveys.values())).words(self.language(kind, locale))
            sample |= {
                "question": self.survey_question(words.question),
                "low_label": words.low_label,
                "high_label": words.high_label,
            }
        return self.render(
            kind,
            sample,
            to_email=address,
            to_name=name,
            message_id=new_message_id(self._message_id_domain),
            locale=locale,
        )

    def check(self) -> list[Problem]:
        """Render every kind with its sample data, in the default language and in each of its
        translations; return every problem found (file and line), and every translation file
        that cannot be used (no twin, or its tag spelled another way)."""
        problems: list[Problem] = []
        for kind in KINDS:
            for tag in [None, *sorted(self._translations(kind))]:
                problems += self._check(kind, tag)
        problems += self._unusable()
        problems += [
            Problem(
                self._config_file,
                f"email.voice.kinds.{name}",
                f"no such email kind; the kinds are: {', '.join(KINDS)}",
            )
            for name in self._voice.kinds
            if name not in KINDS
        ]
        return list(dict.fromkeys(problems))  # a broken base.html is reported once, not per kind

    def _check(self, kind: str, tag: str | None) -> list[Problem]:
        problems: list[Problem] = []
        templates: dict[str, jinja2.Template] = {}
        for suffix in ("txt", "html"):
            try:
                templates[suffix] = self._template(kind, suffix, tag)
            except TemplateError as exc:
                problems += exc.problems
        sample = _kind(kind).sample
        # a kind that names the job: as an event that said all of it, and one that said none
        samples = [sample, {**sample, "job": NO_JOB}] if "job" in sample else [sample]
        for each in samples:
            variables = self._variables(kind, each, tag)
            subject = "(the subject)"
            if "txt" in templates:
                try:
                    subject = self._subject(kind, templates["txt"], variables)
                except TemplateError as exc:
                    problems += exc.problems
            variables["subject"] = subject
            for template in templates.values():
                try:
                    self._body(kind, template, variables)
                except TemplateError as exc:
                    problems += exc.problems
        return problems

    def _unusable(self) -> list[Problem]:
        problems = []
        for name in sorted(self._names):
            plain, tag = split(name)
            if tag is None:
                continue
            if canonical(tag) != tag:
                message = f'write the locale as "{canonical(tag)}" in the file name'
                problems.append(Problem(self._file(name), "", message))
                continue
            kind, _, suffix = plain.rpartition(".")
            twin = suffixed(f"{kind}.{'html' if suffix == 'txt' else 'txt'}", tag)
            if kind in KINDS and suffix in ("txt", "html") and twin not in self._names:
                message = (
                    f"has no twin {twin}: a translation needs both files, and until it has "
                    f"them the {kind!r} email goes out in the default language"
                )
                problems.append(Problem(self._file(name), "", message))
        return problems

    def _translations(self, kind: str) -> set[str]:
        """The tags `kind` is translated into: both of its files exist."""
        found = self._translated.get(kind)
        if found is None:
            tags = {split(name)[1] for name in self._names if name.startswith(f"{kind}.")}
            found = self._translated[kind] = {
                tag
                for tag in tags
                if tag
                and suffixed(f"{kind}.txt", tag) in self._names
                and suffixed(f"{kind}.html", tag) in self._names
            }
        return found

    def _translation(self, kind: str, locale: str | None) -> str | None:
        """The tag of the pair a reader of `locale` gets (None: the unsuffixed pair); asked for
        every email of a batch, so remembered (a bounded number of locales)."""
        key = (kind, locale)
        if key not in self._picked:
            if len(self._picked) >= 4096:
                self._picked.clear()
            self._picked[key] = pick(locale, self._locale, self._translations(kind))
        return self._picked[key]

    def _env(self, tag: str | None) -> jinja2.Environment:
        env = self._envs.get(tag)
        if env is None:
            env = self._envs[tag] = jinja2.Environment(
                loader=_Translated(self._files, fallbacks(tag), self._names),
                autoescape=jinja2.select_autoescape(("html",), default_for_string=False),
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,
            )
            env.filters["datetime"] = self._datetime
            # Amounts in the business's currency, written the way this translation's reader
            # writes them (an en-US email "$1,250.00", a French one "1 250,00 $US").
            env.filters["money"] = money_in(self._business.currency, tag or self._locale)
            env.filters["percent"] = percent_in(tag or self._locale)  # 10 -> "10%", "10 %"
        return env

    def _template(self, kind: str, suffix: str, tag: str | None) -> jinja2.Template:
        name = f"{kind}.{suffix}"
        file = suffixed(name, tag) if tag else name
        try:
            return self._env(tag).get_template(name)
        except jinja2.TemplateNotFound as exc:
            if exc.name != name:
                raise self._error(kind, file, exc) from exc
            message = f"missing: every email kind needs {kind}.html and {kind}.txt"
            raise TemplateError([Problem(self._file(name), "", message)]) from None
        except Exception as exc:
            raise self._error(kind, file, exc) from exc

    def _subject(self, kind: str, template: jinja2.Template, variables: dict[str, Any]) -> str:
        name = str(template.filename or template.name)
        block = template.blocks.get("subject")
        if block is None:
            message = "no subject: write it as {% block subject %}...{% endblock %} in this file"
            raise TemplateError([Problem(self._file(name), "", message)])
        try:
            subject = one_line(self._render_block(template, block, variables))
        except Exception as exc:
            raise self._error(kind, name, exc) from exc
        if not subject:
            raise TemplateError([Problem(self._file(name), "", "the subject block is empty")])
        return subject

    def _render_block(
        self,
        template: jinja2.Template,
        block: Callable[[Context], Iterator[str]],
        variables: dict[str, Any],
    ) -> str:
        """One block alone, its traceback rewritten to template lines as Template.render does."""
        try:
            return "".join(block(template.new_context(variables)))
        except Exception:
            template.environment.handle_exception()

    def _body(self, kind: str, template: jinja2.Template, variables: dict[str, Any]) -> str:
        name = str(template.filename or template.name)
        try:
            body = template.render(variables)
            if name.endswith(".html"):
                inlined: str = self._inliner.inline(body)
                return inlined
            return body
        except Exception as exc:  # owner-written code can raise anything: report it, file and line
            raise self._error(kind, name, exc) from exc

    def _error(self, kind: str, name: str, exc: Exception) -> TemplateError:
        """Turn a Jinja2 (or other) exception into a Problem naming the template file and line."""
        file, line = self._file(name), None
        if isinstance(exc, jinja2.TemplateSyntaxError):
            file, line = self._file(exc.filename or name), exc.lineno
            message = f"syntax error: {exc.message}"
        else:
            # Jinja2 rewrites tracebacks: a template's frames carry its path and template line.
            for frame, lineno in traceback.walk_tb(exc.__traceback__):
                if frame.f_code.co_filename.startswith(self._dir):
                    file, line = self._file(frame.f_code.co_filename), lineno
            if isinstance(exc, jinja2.UndefinedError):
                names = ", ".join(sorted([*_kind(kind).sample, *PROVIDED]))
                message = f"{exc.message} in the {kind!r} email (its variables: {names})"
            elif isinstance(exc, jinja2.TemplateNotFound):
                message = f'uses a template that does not exist: "{exc.name}"'
            else:
                message = f"{type(exc).__name__}: {exc}"
        return TemplateError([Problem(file, f"line {line}" if line else "", message)])

    def _file(self, name: str) -> str:
        path = Path(name) if os.path.isabs(name) else Path(self._dir, name)
        try:
            return path.relative_to(self._root).as_posix()
        except ValueError:
            return str(path)

    def _datetime(self, moment: datetime) -> str:
        """The `datetime` filter: a moment in the business's zone, "2 March 2026, 09:30 GMT"."""
        if moment.tzinfo is None:
            raise ValueError("the datetime filter needs a timezone-aware datetime")
        local = moment.astimezone(self._zone)
        return f"{local.day} {local:%B %Y, %H:%M} {local.tzname()}"

    def _variables(
        self, kind: str, context: Mapping[str, object], tag: str | None
    ) -> dict[str, Any]:
        """What every template is given beside its kind's own variables."""
        return {
            **context,
            "business": self._business,
            "locale": tag or self._locale,
            "signature": self.voice(kind).signature,
            "logo_url": self._logo_url,
        }

    def voice(self, kind: str) -> Voice:
        """Who `kind` comes from and how it is signed: its own [email.voice.kinds.KIND] over
        [email.voice]; the owner's kinds take only their own."""
        own = self._voice.kinds.get(kind, Voice())
        if _kind(kind).owner:
            return own
        return Voice(
            name=own.name or self._voice.name, signature=own.signature or self._voice.signature
        )

    def envelope(
        self,
        kind: str,
        subject: str,
        text_qp: bytes,
        html_qp: bytes,
        *,
        to_email: str,
        to_name: str | None,
        message_id: str,
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> bytes:
        """The flattened message around bodies already in quoted-printable (`quoted_printable`)."""
        if not _MESSAGE_ID.fullmatch(message_id):
            raise ValueError(f"not a Message-ID: {message_id!r}")
        # "=" is always escaped in quoted-printable and ends base64; "-" is in neither.
        boundary = "=_" + secrets.token_hex(12)
        sender = self._from.get(kind)
        if sender is None:
            name = self.voice(kind).name or self._business.name
            sender = self._from[kind] = _address_header("From", name, self._business.email)
        head = [
            sender,
            _address_header("To", to_name or "", to_email),
            self._reply_to,
            _fold("Subject", _words(subject)),
            f"Date: {format_datetime(self._clock.now().astimezone(self._zone))}\r\n",
            f"Message-ID: {message_id}\r\n",
        ]
        head += [_extra_header(name, value) for name, value in (headers or {}).items()]
        head.append("MIME-Version: 1.0\r\n")
        if attachments:  # multipart/mixed: the alternative below is its first part
            mixed = "=_" + secrets.token_hex(
                12
            )  # as long as `boundary`: neither prefixes the other
            head.append(f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n\r\n--{mixed}\r\n')
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n')
        part = "\r\n--{}\r\nContent-Type: text/{}; charset=utf-8\r\n"
        part += "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        chunks = [
            "".join(head).encode("ascii"),
            part.format(boundary, "plain").encode("ascii"),
            text_qp,
            part.format(boundary, "html").encode("ascii"),
            html_qp,
        ]
        if not attachments:
            chunks.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
        else:
            chunks.append(f"\r\n--{boundary}--".encode("ascii"))
            chunks += [_attachment_part(mixed, attachment) for attachment in attachments]
            chunks.append(f"\r\n--{mixed}--\r\n".encode("ascii"))
        return b"".join(chunks)


def _kind(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown email kind {kind!r}; the kinds are: {', '.join(KINDS)}"
        ) from None


def quoted_printable(body: str) -> bytes:
    """UTF-8, CRLF lines ending in one, quoted-printable: 7-bit, lines of at most 76."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n") + "\r\n"
    return binascii.b2a_qp(lines.encode("utf-8"), istext=True)  # a CRLF present → CRLF soft breaks


def _attachment_part(boundary: str, attachment: Attachment) -> bytes:
    """One attachment as a MIME part, its delimiter first: base64 in lines of 76, CRLF."""
    filename = attachment_filename(attachment.filename)
    content_type = [
        f"{attachment.content_type.lower()};",
        *_parameter("name", _ascii_filename(filename)),
    ]
    head = (
        f"\r\n--{boundary}\r\n"
        + _fold("Content-Type", content_type)
        + _fold("Content-Disposition", ["attachment;", *_parameter("filename", filename)])
        + "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    body = base64.encodebytes(attachment.data).replace(b"\n", b"\r\n")
    return head.encode("ascii") + body.removesuffix(b"\r\n")


def _ascii_filename(filename: str) -> str:
    """A plain-ASCII stand-in for a filename, for mail apps that ignore RFC 2231: accents
    dropped ("Broschüre.pdf" → "Broschure.pdf"), other characters and "?" become "_", and a
    name left without letters or digits becomes "attachment" with its extension."""
    chars = []
    for char in unicodedata.normalize("NFKD", filename):
        if char.isascii():
            chars.append("_" if char == "?" else char)
        elif not unicodedata.combining(char):
            chars.append("_")
    name = attachment_filename(re.sub("_+", "_", "".join(chars)))  # NFKD makes ＂ a " again
    stem, extension = os.path.splitext(name)
    if not any(char.isalnum() for char in stem):
        name = "attachment" + (extension if extension[1:].isalnum() else "")
    return name


def _parameter(name: str, value: str) -> list[str]:
    """A MIME parameter (value from `attachment_filename`) as words for `_fold`, joined by ";".

    Plain ASCII is quoted (`name="value"`); anything else, and ASCII holding "=?" (which mail
    apps would decode as an RFC 2047 word), is RFC 2231 `name*=utf-8''percent-encoded`. A long
    value is split into RFC 2231 continuations (`name*0`, `name*1` ...), between characters.
    """
    if value.isascii() and "=?" not in value:
        pieces = [value[i : i + _PARAM_WIDTH] for i in range(0, len(value), _PARAM_WIDTH)]
        words = (
            [f'{name}="{value}"']
            if len(pieces) == 1
            else [f'{name}*{n}="{piece}"' for n, piece in enumerate(pieces)]
        )
    else:
        pieces, piece = [], "utf-8''"
        for char in value:
            encoded = quote(char, safe=_ATTR_CHARS)
            if len(piece) + len(encoded) > _PARAM_WIDTH:
                pieces.append(piece)
                piece = ""
            piece += encoded
        pieces.append(piece)
        words = (
            [f"{name}*={pieces[0]}"]
            if len(pieces) == 1
            else [f"{name}*{n}*={piece}" for n, piece in enumerate(pieces)]
        )
    return [word + ";" for word in words[:-1]] + words[-1:]


def _ascii_domain(domain: str) -> str:
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")  # UnicodeError is a ValueError
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain name: {domain!r}")
    return domain


def _address_header(field: str, display_name: str, address: str) -> str:
    local, _, domain = address.rpartition("@")
    address = f"{local}@{_ascii_domain(domain)}"
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"not a plain ASCII email address: {address!r}")
    name = one_line(display_name)
    if not name:
        return f"{field}: {address}\r\n"
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if name.isascii() and "=?" not in name and len(quoted) <= 64:
        return _fold(field, [quoted, f"<{address}>"])
    return _fold(field, [*_encoded_words(name), f"<{address}>"])


def _words(text: str) -> list[str]:
    """Unstructured header text as foldable words: ASCII as it is, anything else encoded."""
    text = one_line(text)
    words = text.split(" ")
    if text.isascii() and "=?" not in text and max(map(len, words)) <= _LONGEST_WORD:
        return words
    return _encoded_words(text)


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 base64 encoded-words, split between characters; decoders join them, spaceless.

    A split goes just after a space when one is near: Python's own address parser wrongly puts
    a space between adjacent encoded-words, and there that only doubles a space.
    """
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _CHUNK, len(data))
        space = data.rfind(b" ", start + _CHUNK // 2, end)
        if end < len(data) and space >= 0:
            end = space + 1
        while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words


def _extra_header(name: str, value: str) -> str:
    """A caller's header (List-Unsubscribe …): ASCII, written as given, folded only at spaces."""
    if not _FIELD_NAME.fullmatch(name) or name.lower() in _OWN_FIELDS:
        raise ValueError(f"not an extra header name: {name!r}")
    words = one_line(value).split(" ")
    if not value.isascii() or max(map(len, words)) > _LONGEST_WORD:
        raise ValueError(
            f"the {name} header takes ASCII words of at most {_LONGEST_WORD} characters"
        )
    return _fold(name, words)


def _fold(field: str, words: list[str]) -> str:
    """`Field: words` folded at the spaces between words into lines of at most 76 characters."""
    lines = []
    line = field + ":"
    for word in words:
        if len(line) + 1 + len(word) > _FOLD_AT and len(line) > len(field) + 1:
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"
