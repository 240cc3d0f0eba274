"""DKIM: every email is signed once at enqueue, and dkimpy's own verifier accepts what the SMTP
server receives, against the public key a DNS lookup would return; plus the DNS advice of
`vouch check --deliverability`."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from daemon import cli
from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.errors import ConfigError
from daemon.mail.compose import build_email, enqueue
from daemon.mail.deliverability import dns_advice, spf_include, zone_txt
from daemon.mail.dkim import DkimSigner, public_key_record, signed_fields
from daemon.mail.outbox import State
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.sender import Sender
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.transport import build_transport

from helpers import ENV, write_business
from smtp_server import SmtpServer

SELECTOR = "vouch2026"
DOMAIN = "harborlane.example"  # the domain of the test business's email
DKIM = {"email": {"dkim": {"selector": SELECTOR, "key_file": "dkim/vouch.pem"}}}
UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://vouch.test/u/abc>, "
    "<mailto:team@harborlane.example?subject=unsubscribe>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key(root: Path, key: Any, fmt: Any = serialization.PrivateFormat.PKCS8) -> Path:
    path = root / "dkim" / "vouch.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    path.write_bytes(pem)
    return path


def dns_for(key: rsa.RSAPrivateKey, name: str = f"{SELECTOR}._domainkey.{DOMAIN}") -> Any:
    """A dnsfunc for dkim.verify: the TXT record the owner publishes, and nothing else."""
    record = public_key_record(key).encode("ascii")

    def lookup(qname: bytes, timeout: int = 5) -> bytes | None:
        return record if qname.decode().rstrip(".") == name else None

    return lookup


@pytest.fixture
def dkim_config(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, make_config: Callable[..., Config]
) -> Callable[..., Config]:
    write_key(tmp_path / "biz", rsa_key)

    def make(changes: dict[str, Any] | None = None) -> Config:
        return make_config({**DKIM, **(changes or {})})

    return make


async def enqueue_test(services: Services, to: str = "ann@example.com") -> int:
    row_id = await enqueue(
        services,
        build_email(
            services,
            kind="test",
            context={"recipient": to, "sent_at": services.clock.now()},
            to_email=to,
            to_name="Ann Example",
            dedupe_key=f"test:{to}",
            headers=UNSUBSCRIBE,
        ),
    )
    assert row_id is not None
    return row_id


async def test_the_outbox_holds_signed_bytes_that_verify(
    dkim_config: Callable[..., Config],
    rsa_key: rsa.RSAPrivateKey,
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    config = dkim_config()
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    row = await store.outbox_row(await enqueue_test(services))
    assert row is not None
    assert row.message.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; ")
    assert b"\r\n" in row.message and b"\n" not in row.message.replace(b"\r\n", b"")
    assert dkim.verify(row.message, dnsfunc=dns_for(rsa_key))
    assert signed_fields(row.message) == [
        "from",
        "to",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ]
    assert f"t={int(clock.now().timestamp())};".encode() in row.message  # the injected clock


async def test_delivered_over_smtp_after_a_retry_the_same_signed_bytes_verify(
    smtp_server: SmtpServer,
    dkim_config: Callable[..., Config],
    rsa_key: rsa.RSAPrivateKey,
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    smtp_server.handler.fail_data("451 4.3.0 try again", times=1)
    settings = {"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
    config = dkim_config({"email": {**DKIM["email"], "transport": "smtp", "smtp": settings}})
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    row_id = await enqueue_test(services)
    sender = Sender(
        store,
        build_transport(config, clock),
        clock,
        config.settings.sender,
        services.metrics,
        rng=random.Random(1),
    )
    for _ in range(4):
        await sender.drain()
        clock.advance(timedelta(hours=2))
    await sender.transport.aclose()
    (got,) = smtp_server.handler.messages
    row = await store.outbox_row(row_id)
    assert row is not None and (row.state, row.attempts) == (State.SENT, 2)
    assert got.data.replace(b"\r\n", b"\n") == row.message.replace(b"\r\n", b"\n")
    assert dkim.verify(got.data, dnsfunc=dns_for(rsa_key))


async def test_tampering_breaks_the_signature(
    dkim_config: Callable[..., Config],
    rsa_key: rsa.RSAPrivateKey,
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    config = dkim_config()
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    row = await store.outbox_row(await enqueue_test(services))
    assert row is not None
    message = row.message
    dns = dns_for(rsa_key)
    assert dkim.verify(message, dnsfunc=dns)
    head, _, body = message.partition(b"\r\n\r\n")
    assert b"Harbor Lane" in body
    assert not dkim.verify(
        head + b"\r\n\r\n" + body.replace(b"Harbor Lane", b"Harbor Lame", 1), dnsfunc=dns
    )
    assert not dkim.verify(message.replace(b"Subject: Test", b"Subject: Tost", 1), dnsfunc=dns)
    assert not dkim.verify(
        message.replace(b"https://vouch.test/u/abc", b"https://evil.test/u/abc"), dnsfunc=dns
    )
    # another key published under the selector: no
    assert not dkim.verify(message, dnsfunc=dns_for(rsa.generate_private_key(65537, 2048)))
    # relaxed canonicalisation: refolded headers and trailing spaces still verify
    refolded = message.replace(b"Subject: Test email", b"Subject:  Test\r\n  email", 1)
    assert dkim.verify(refolded, dnsfunc=dns)


def test_the_key_is_loaded_once_per_config(
    dkim_config: Callable[..., Config], rsa_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    config = dkim_config()
    assert config.dkim is not None and config.dkim.domain == DOMAIN
    signer = config.dkim
    message = Renderer(config, clock).preview("survey").message
    for _ in range(3):
        signed = config.dkim.sign(message, clock.now())
        assert config.dkim is signer  # the same signer (and parsed key) every time
    assert dkim.verify(signed, dnsfunc=dns_for(rsa_key))


def test_domain_and_pkcs1_keys(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, make_config: Callable[..., Config]
) -> None:
    write_key(tmp_path / "biz", rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
    config = make_config(
        {"email": {"dkim": {**DKIM["email"]["dkim"], "domain": "mail.harborlane.example"}}}
    )
    assert config.dkim is not None
    message = config.dkim.sign(
        Renderer(config, FakeClock(datetime(2026, 3, 2, tzinfo=UTC))).preview("test").message,
        datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert b" d=mail.harborlane.example; s=vouch2026;" in message
    assert dkim.verify(
        message, dnsfunc=dns_for(rsa_key, f"{SELECTOR}._domainkey.mail.harborlane.example")
    )


def config_problems(root: Path, dkim_table: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_business(root, {"email": {"dkim": dkim_table}}), ENV)
    return [str(p) for p in caught.value.problems]


def test_key_problems_name_the_key(tmp_path: Path) -> None:
    root = tmp_path / "biz"
    table = {"selector": SELECTOR, "key_file": "dkim/vouch.pem"}
    (found,) = config_problems(root, table)
    assert found.startswith("config.toml: email.dkim.key_file: file not found: ")
    (root / "dkim").mkdir()
    (root / "dkim" / "vouch.pem").write_text("not a key\n")
    (found,) = config_problems(root, table)
    assert (
        found.startswith("config.toml: email.dkim.key_file: ") and "not a PEM private key" in found
    )
    assert "openssl genrsa" in found
    write_key(root, ec.generate_private_key(ec.SECP256R1()))
    (found,) = config_problems(root, table)
    assert "email.dkim.key_file" in found and "not an RSA key" in found
    key = rsa.generate_private_key(65537, 2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    (root / "dkim" / "vouch.pem").write_bytes(pem)
    (found,) = config_problems(root, table)
    assert "email.dkim.key_file" in found and "is encrypted" in found
    found_all = config_problems(
        root, {"selector": "no good", "key_file": "dkim/vouch.pem", "domian": "x"}
    )
    assert any(p.startswith("config.toml: email.dkim.selector: ") for p in found_all)
    assert any("email.dkim.domian" in p for p in found_all)


async def test_without_dkim_nothing_is_signed(services: Services, store: SQLiteStore) -> None:
    assert services.config.dkim is None
    row = await store.outbox_row(await enqueue_test(services))
    assert row is not None and row.message.startswith(b"From: ")
    assert b"DKIM-Signature" not in row.message


def test_advice_for_a_signed_smtp_sender(
    dkim_config: Callable[..., Config], rsa_key: rsa.RSAPrivateKey
) -> None:
    config = dkim_config(
        {"email": {**DKIM["email"], "transport": "smtp", "smtp": {"host": "smtp.sendgrid.net"}}}
    )
    text = dns_advice(config)
    assert 'harborlane.example.  TXT  "v=spf1 include:sendgrid.net ~all"' in text
    record = public_key_record(rsa_key)
    assert f"{SELECTOR}._domainkey.harborlane.example.  TXT  {zone_txt(record)}" in text
    assert record in text and "2048 bits" in text
    assert (
        '_dmarc.harborlane.example.  TXT  "v=DMARC1; p=none; rua=mailto:owner@harborlane.example"'
        in text
    )
    assert "p=quarantine" in text and "one-click unsubscribe" in text.lower()
    assert "Warning" not in text


def test_advice_for_maildir_without_a_key(config: Config) -> None:
    text = dns_advice(config)
    assert "nothing is sent yet" in text
    assert "openssl genrsa -out dkim/vouch.pem 2048" in text
    assert "[email.dkim]" in text and "_dmarc.harborlane.example." in text


def test_advice_warns_when_dkim_is_not_aligned(dkim_config: Callable[..., Config]) -> None:
    config = dkim_config({"email": {"dkim": {**DKIM["email"]["dkim"], "domain": "other.example"}}})
    assert "Warning: DKIM signs for other.example" in dns_advice(config)


def test_spf_hints_and_txt_chunks() -> None:
    assert spf_include("smtp.gmail.com") == "_spf.google.com"
    assert spf_include("email-smtp.eu-west-1.amazonaws.com") == "amazonses.com"
    assert spf_include("mail.example.org") is None
    assert spf_include("notgmail.com") is None
    assert zone_txt("a" * 300) == f'"{"a" * 255}" "{"a" * 45}"'


def test_check_deliverability_prints_the_records(
    dkim_config: Callable[..., Config],
    rsa_key: rsa.RSAPrivateKey,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = dkim_config()
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["check", "--config", str(config.path), "--deliverability"]) == 0
    out = capsys.readouterr().out
    assert ": ok (" in out
    assert public_key_record(rsa_key) in out and "_dmarc.harborlane.example." in out
    assert cli.main(["check", "--config", str(config.path)]) == 0
    assert "_dmarc" not in capsys.readouterr().out


def test_signer_refuses_a_message_without_from(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = DkimSigner(rsa_key, domain=DOMAIN, selector=SELECTOR)
    with pytest.raises(ValueError, match="From"):
        signer.sign(b"To: a@example.com\r\n\r\nhi\r\n", datetime(2026, 3, 2, tzinfo=UTC))
