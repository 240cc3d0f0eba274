"""mail/stamp.py: a stamped email says exactly what a full render of the same context says."""

from __future__ import annotations

import email
import email.policy
import logging
import re
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_render import edit, make_site, renderer_for

from daemon.mail.render import Renderer, quoted_printable
from daemon.mail.stamp import Stamps

PERSONAL = frozenset({"customer_name", "scores", "survey_url", "unsubscribe_url"})
MESSAGE_ID = "<stamp-test@harborlane.example>"
BOUNDARY = re.compile(rb"=_[0-9a-f]{24}")


def context(name: str | None, token: str) -> dict[str, Any]:
    return {
        "customer_name": name,
        "question": "How likely are you to recommend Harbor Lane Renovations to a friend?",
        "low_label": "Not at all likely",
        "high_label": "Extremely likely",
        "scores": [{"score": n, "url": f"https://v.example/s/{token}-{n}"} for n in range(11)],
        "survey_url": f"https://v.example/s/{token}",
        "unsubscribe_url": f"https://v.example/u/{token}",
        "job": {"title": None, "product": None, "amount": None},
    }


def both(
    renderer: Renderer, stamps: Stamps, kind: str, ctx: dict[str, Any], locale: str | None = None
) -> tuple[bytes, bytes]:
    """The full render and the stamped one of the same email, boundaries made equal."""
    envelope: dict[str, Any] = {
        "to_email": "sam@example.com",
        "to_name": ctx["customer_name"],
        "message_id": MESSAGE_ID,
        "headers": {"List-Unsubscribe": f"<{ctx['unsubscribe_url']}>"},
    }
    full = renderer.render(kind, ctx, locale=locale, **envelope).message
    stamped = stamps.render(kind, ctx, personal=PERSONAL, locale=locale, **envelope)
    return BOUNDARY.sub(b"=_boundary", full), BOUNDARY.sub(b"=_boundary", stamped)


def parsed(message: bytes) -> tuple[dict[str, str], str, str]:
    msg = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text, html = (msg.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    headers = {name: str(value) for name, value in msg.items()}
    return headers, text.get_content(), unescape(html.get_content())


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    return renderer_for(make_site(tmp_path))


@pytest.mark.parametrize("kind", ["survey", "reminder"])
def test_stamped_emails_are_byte_for_byte_the_full_render(renderer: Renderer, kind: str) -> None:
    stamps = Stamps(renderer)
    for n, name in enumerate(["Sam", "Alex", None, "Zoë", None, "Jo"]):
        full, stamped = both(renderer, stamps, kind, context(name, f"token{n}"))
        assert stamped == full
        assert (b"Hi Sam" in stamped) == (name == "Sam")


def test_each_language_has_its_own_stamp(renderer: Renderer) -> None:
    stamps = Stamps(renderer)
    for n, locale in enumerate(["fr-CA", None, "fr", "de"]):
        full, stamped = both(renderer, stamps, "survey", context("Sam", f"t{n}"), locale)
        assert stamped == full
        assert (b"Bonjour" in stamped) == (locale in ("fr-CA", "fr"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    token=st.from_regex(r"[A-Za-z0-9_.-]{1,60}", fullmatch=True),
)
def test_any_name_reads_the_same_stamped_or_not(
    renderer: Renderer, name: str | None, token: str
) -> None:
    stamps = Stamps(renderer)
    full, stamped = both(renderer, stamps, "survey", context(name, token))
    assert parsed(stamped) == parsed(full)  # HTML entities may be spelled differently


def test_a_filter_on_a_personal_value_falls_back_to_full_renders(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = make_site(tmp_path)
    edit(
        site,
        "survey.txt",
        lambda text: text.replace("{{ customer_name }}", "{{ customer_name | upper }}"),
    )
    renderer = renderer_for(site)
    stamps = Stamps(renderer)
    with caplog.at_level(logging.WARNING, logger="daemon.mail.stamp"):
        for n, name in enumerate(["Sam", "Alex"]):
            full, stamped = both(renderer, stamps, "survey", context(name, f"t{n}"))
            assert stamped == full
            assert name.upper().encode() in stamped
    assert "transform a personal value" in caplog.text


def test_a_test_a_stamp_cannot_see_is_caught_by_the_first_email(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`length` leaves no mangled slot; the first email's check against a full render catches
    it, and every email after is rendered in full."""
    site = make_site(tmp_path)
    edit(
        site,
        "survey.txt",
        lambda text: text.replace(
            "{% block content %}",
            "{% block content %}{% if customer_name | length > 20 %}LONG{% endif %}",
            1,
        ),
    )
    renderer = renderer_for(site)
    stamps = Stamps(renderer)
    with caplog.at_level(logging.WARNING, logger="daemon.mail.stamp"):
        for n, name in enumerate(["Sam", "Alexandra Catherine Montgomery", "Jo"]):
            full, stamped = both(renderer, stamps, "survey", context(name, f"t{n}"))
            assert stamped == full
            assert (b"LONG" in stamped) == (len(name) > 20)
    assert "a stamp cannot reproduce" in caplog.text


@given(
    lines=st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=120),
        min_size=2,
        max_size=12,
    ),
    data=st.data(),
)
def test_encoding_line_runs_apart_is_encoding_them_together(
    lines: list[str], data: st.DataObject
) -> None:
    """What stamps rely on: quoted-printable starts afresh on every line (lines as stamps cut
    them, without CR or LF)."""
    cut = data.draw(st.integers(1, len(lines) - 1))
    apart = quoted_printable("\n".join(lines[:cut])) + quoted_printable("\n".join(lines[cut:]))
    assert apart == quoted_printable("\n".join(lines))
