"""Emails that sound like a person ([email.voice]): the From name and signature of every email
to customers, one kind's own, the owner's emails left as they were, a logo the HTML shows from
the owner's file (the text complete without it), and each mistake named by file and key."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from loop import Loop, html_of, smtp_changes, text_of

from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.errors import ConfigError
from daemon.mail.render import Renderer

from helpers import ENV, merge, write_business
from smtp_server import SmtpServer

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
VOICE = {
    "name": "Mike at Harbor Lane",
    "signature": "Mike Lee\nOwner, Harbor Lane Renovations",
    "logo": "materials/logo.png",
    "kinds": {"reminder": {"signature": "Mike (still hoping to hear from you)"}},
}


def voiced(root: Path, voice: dict[str, Any], more: dict[str, Any] | None = None) -> Path:
    path = write_business(root, merge({"email": {"voice": voice}}, more or {}))
    (root / "materials" / "logo.png").write_bytes(PNG)
    return path


@pytest.fixture
def loop_config(tmp_path: Path, loop_smtp: SmtpServer) -> Config:
    return load_config(voiced(tmp_path / "biz", VOICE, smtp_changes(loop_smtp)), ENV)


def parsed(message: bytes) -> EmailMessage:
    found = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(found, EmailMessage)
    return found


async def test_a_survey_comes_from_a_person_and_is_signed(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z", name="Ann")
    await loop.travel(timedelta(days=3, hours=12))
    (survey,) = loop.new_mail()
    assert str(survey["From"]) == "Mike at Harbor Lane <hello@harborlane.example>"
    text, html = text_of(survey), html_of(survey)
    signed = text.index("Mike Lee\nOwner, Harbor Lane Renovations")
    assert text.index("You can add a comment") < signed < text.index("\n--\n")
    assert re.search(
        r'<p class="signature"[^>]*>Mike Lee<br>Owner, Harbor Lane Renovations</p>', html
    )
    assert re.search(r'<img src="http://vouch.test/brand/logo" alt="Harbor Lane Renovations"', html)
    assert "logo" not in text  # the text says everything without the image

    await loop.travel(timedelta(days=4))
    (reminder,) = loop.new_mail()
    assert str(reminder["From"]) == "Mike at Harbor Lane <hello@harborlane.example>"
    assert "Mike (still hoping to hear from you)" in text_of(reminder)
    assert "Owner, Harbor Lane" not in text_of(reminder)  # its own signature, not the default

    logo = await loop.client.get("/brand/logo")
    assert logo.status_code == 200 and logo.content == PNG
    assert logo.headers["content-type"] == "image/png"


def test_the_owners_emails_keep_the_business_name_unless_given_their_own(
    tmp_path: Path,
) -> None:
    voice = {**VOICE, "kinds": {"owner_digest": {"name": "Vouch for Mike"}}}
    renderer = Renderer(load_config(voiced(tmp_path, voice), ENV), FakeClock())
    alert = parsed(renderer.preview("owner_alert").message)
    assert str(alert["From"]) == "Harbor Lane Renovations <hello@harborlane.example>"
    assert "Mike Lee" not in renderer.preview("owner_alert").text
    assert str(parsed(renderer.preview("owner_digest").message)["From"]).startswith(
        "Vouch for Mike <"
    )
    ask = renderer.preview("referral_ask")
    assert str(parsed(ask.message)["From"]).startswith("Mike at Harbor Lane <")
    assert ask.text.rstrip().endswith("Unsubscribe: https://vouch.example.com/u/sample-token")
    assert "Mike Lee\nOwner, Harbor Lane Renovations" in ask.text


def test_a_name_beyond_ascii_is_encoded_and_reads_back(tmp_path: Path) -> None:
    renderer = Renderer(
        load_config(voiced(tmp_path, {"name": "Zoë at Café Ünd"}), ENV), FakeClock()
    )
    message = renderer.preview("survey").message
    assert b"Zo\xc3\xab" not in message.split(b"\r\n\r\n", 1)[0]  # encoded in the header
    assert str(parsed(message)["From"]) == "Zoë at Café Ünd <hello@harborlane.example>"


@pytest.mark.parametrize(
    ("voice", "key", "message"),
    [
        ({"name": "Mike\r\nBcc: all@example.com"}, "email.voice.name", "control"),
        ({"name": ""}, "email.voice.name", "the From name"),
        ({"signature": "x" * 401}, "email.voice.signature", "sign the email"),
        ({"logo": "materials/logo.svg"}, "email.voice.logo", "PNG, JPEG or GIF"),
        ({"logo": "materials/nothing.png"}, "email.voice.logo", "file not found"),
        ({"kinds": {"survey": {"colour": "red"}}}, "email.voice.kinds.survey.colour", ""),
    ],
)
def test_each_mistake_is_named_by_key(
    tmp_path: Path, voice: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(voiced(tmp_path, voice), ENV)
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"config.toml: {key}: ") and message in p for p in found), found


def test_a_logo_too_large_is_refused(tmp_path: Path) -> None:
    path = voiced(tmp_path, {"logo": "materials/big.png"})
    (tmp_path / "materials" / "big.png").write_bytes(PNG + bytes(200_000))
    with pytest.raises(ConfigError, match=r"email\.voice\.logo: materials/big\.png is 200,"):
        load_config(path, ENV)


def test_check_names_a_kind_that_does_not_exist(make_config: Callable[..., Config]) -> None:
    config = make_config({"email": {"voice": {"kinds": {"surveys": {"name": "Mike"}}}}})
    problems = [str(p) for p in Renderer(config, FakeClock()).check()]
    assert any(
        p.startswith("config.toml: email.voice.kinds.surveys: no such email kind") for p in problems
    ), problems


async def test_no_logo_is_a_plain_404(make_config: Callable[..., Config], loop: Loop) -> None:
    loop.services.config = make_config()
    assert (await loop.client.get("/brand/logo")).status_code == 404
