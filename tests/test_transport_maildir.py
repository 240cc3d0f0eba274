"""MaildirTransport writes real files; also the in-memory fake and build_transport's choice."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.clock import FakeClock
from daemon.config import Business, Config, EmailSettings, Secrets, Settings, Smtp
from daemon.errors import ConfigError, TemporaryDeliveryError
from daemon.transport import MaildirTransport, MemoryTransport, SmtpTransport, build_transport
from daemon.transport.maildir import file_name
from daemon.words import PageWords


def message(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "hello@acme.test"
    msg["To"] = "ann@example.com"
    msg["Subject"] = subject
    msg.set_content("Hello\n")
    return msg.as_bytes(policy=email.policy.SMTP)


def eml_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.eml"))


async def test_writes_a_parseable_eml_into_new(tmp_path: Path) -> None:
    maildir = MaildirTransport(tmp_path / "maildir")
    data = message("How did we do?")
    reply = await maildir.send("hello@acme.test", "ann@example.com", data, key="survey:42")
    await maildir.aclose()

    [path] = eml_files(tmp_path)
    assert path.parent == tmp_path / "maildir" / "new"
    assert reply == f"250 written new/{path.name}"
    assert path.read_bytes() == data
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "How did we do?"
    assert list((tmp_path / "maildir" / "tmp").iterdir()) == []
    assert (tmp_path / "maildir" / "cur").is_dir()


async def test_the_same_key_twice_leaves_one_file_with_the_latest_bytes(tmp_path: Path) -> None:
    maildir = MaildirTransport(tmp_path)
    await maildir.send("hello@acme.test", "ann@example.com", message("first"), key="k/1")
    await maildir.send("hello@acme.test", "ann@example.com", message("second"), key="k/1")
    [path] = eml_files(tmp_path)
    assert b"Subject: second" in path.read_bytes()


async def test_keys_that_sanitise_alike_stay_apart(tmp_path: Path) -> None:
    maildir = MaildirTransport(tmp_path)
    await maildir.send("hello@acme.test", "ann@example.com", message("a"), key="survey/1")
    await maildir.send("hello@acme.test", "ann@example.com", message("b"), key="survey:1")
    assert len(eml_files(tmp_path)) == 2


async def test_a_write_error_is_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the maildir should be")
    maildir = MaildirTransport(blocker)
    with pytest.raises(TemporaryDeliveryError, match="cannot write"):
        await maildir.send("hello@acme.test", "ann@example.com", message("x"), key="k")


@given(st.text(max_size=300))
def test_file_names_are_safe_and_stable(key: str) -> None:
    name = file_name(key)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*\.eml", name)
    assert len(name) <= 100
    assert name == file_name(key)


async def test_memory_transport_records_and_fails_on_demand() -> None:
    memory = MemoryTransport()
    memory.fail_next(TemporaryDeliveryError("451 later", code=451))
    with pytest.raises(TemporaryDeliveryError):
        await memory.send("hello@acme.test", "ann@example.com", message("x"), key="k")
    assert await memory.send("hello@acme.test", "ann@example.com", message("x"), key="k") == (
        "250 OK queued as 1"
    )
    [sent] = memory.sent
    assert (sent.recipient, sent.key, sent.parsed()["Subject"]) == ("ann@example.com", "k", "x")
    await memory.aclose()
    assert memory.closed


def config(tmp_path: Path, email_settings: EmailSettings) -> Config:
    business = Business(name="Acme", email="hello@example.com", owner_email="owner@example.com")
    settings = Settings(business=business, email=email_settings)
    secrets = Secrets(api_token=None, smtp_password=None)
    return Config(tmp_path / "config.toml", settings, secrets, {}, PageWords({}, {}))


def test_build_transport_defaults_to_a_maildir_under_the_config(tmp_path: Path) -> None:
    transport = build_transport(config(tmp_path, EmailSettings()), FakeClock())
    assert isinstance(transport, MaildirTransport)
    assert transport.path == tmp_path / "var" / "maildir"


def test_build_transport_smtp(tmp_path: Path) -> None:
    smtp = Smtp(host="127.0.0.1", port=2525, security="none", connections=3)
    transport = build_transport(
        config(tmp_path, EmailSettings(transport="smtp", smtp=smtp)), FakeClock()
    )
    assert isinstance(transport, SmtpTransport)
    assert transport.concurrency == 3


def test_an_unreadable_ca_file_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    smtp = Smtp(host="127.0.0.1", ca_file=Path("missing.pem"))
    with pytest.raises(ConfigError, match=r"config.toml: email.smtp.ca_file: cannot load"):
        build_transport(config(tmp_path, EmailSettings(transport="smtp", smtp=smtp)), FakeClock())
