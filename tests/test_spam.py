"""Every email kind, in each language the repo's templates have, DKIM-signed, scores under 2.0
with SpamAssassin's local rules (`spamassassin -L -t`, no network tests). Starting SpamAssassin
takes about 2 s, so all the emails go through one run as an mbox (`--mbox`) and each report is
matched back to its kind by Message-ID. Skipped only where the `spamassassin` binary is missing
(CI installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.clock import FakeClock
from daemon.config import load_config
from daemon.mail.render import KINDS, Renderer

from helpers import ENV, write_business

LIMIT = 2.0
SPAMASSASSIN = shutil.which("spamassassin")
_SEPARATOR = b"From vouch@localhost Mon Mar  2 09:30:00 2026\n"
_STATUS = re.compile(rb"^X-Spam-Status: \w+, score=(-?\d+(?:\.\d+)?)", re.MULTILINE)
_MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        SPAMASSASSIN is None,
        reason="the spamassassin binary is not installed (apt-get install -y spamassassin)",
    ),
]


def spam_reports(messages: list[bytes]) -> dict[bytes, tuple[float, str]]:
    """Message-ID → (score, the rules that fired), from one `spamassassin -L -t --mbox` run."""
    assert SPAMASSASSIN is not None
    mbox = b"".join(
        _SEPARATOR + re.sub(rb"(?m)^(>*From )", rb">\1", message.replace(b"\r\n", b"\n")) + b"\n"
        for message in messages
    )
    done = subprocess.run(
        [SPAMASSASSIN, "-L", "-t", "--mbox"], input=mbox, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    reports = {}
    for chunk in done.stdout.split(_SEPARATOR)[1:]:
        status = _STATUS.search(chunk)
        assert status, f"not a SpamAssassin report: {chunk[:2000]!r}"
        details = chunk.decode("utf-8", "replace").partition("Content analysis details:")[2]
        reports[message_id(chunk)] = (float(status.group(1)), details.strip())
    return reports


def message_id(message: bytes) -> bytes:
    found = _MESSAGE_ID.search(message)
    assert found, f"no Message-ID in {message[:2000]!r}"
    return found.group(1)


def test_every_email_kind_in_every_language_scores_under_the_limit(tmp_path: Path) -> None:
    root = tmp_path / "biz"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "dkim").mkdir(parents=True)
    (root / "dkim" / "vouch.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # A realistic public URL: SpamAssassin distrusts links to bare IP addresses.
    path = write_business(
        root,
        {
            "business": {"public_url": "https://vouch.harborlane.example"},
            "email": {"dkim": {"selector": "vouch", "key_file": "dkim/vouch.pem"}},
        },
    )
    config = load_config(path, ENV)
    assert config.dkim is not None
    clock = FakeClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    renderer = Renderer(config, clock)
    assert renderer.locales() == ["en-US", "fr"]
    messages = {
        f"{kind}.{locale or 'default'}": config.dkim.sign(
            renderer.preview(kind, locale).message, clock.now()
        )
        for kind in KINDS
        for locale in [None, *renderer.locales()]
        if locale is None or renderer.language(kind, locale) == locale  # translated ones only
    }
    assert "survey.fr" in messages and "owner_alert.fr" not in messages
    by_id = spam_reports(list(messages.values()))
    reports = {kind: by_id[message_id(message)] for kind, message in messages.items()}
    too_high = {
        kind: f"{score}\n{report}" for kind, (score, report) in reports.items() if score >= LIMIT
    }
    scores = {kind: score for kind, (score, _) in reports.items()}
    print("SpamAssassin scores:", scores)
    assert not too_high, f"scores {scores}; over {LIMIT}:\n" + "\n\n".join(
        f"{kind}: {text}" for kind, text in too_high.items()
    )
