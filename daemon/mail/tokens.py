"""Signed, unguessable tokens for public links (survey scores, unsubscribe, review sites, a
survey's public link and the confirmation of an answer given through it).

A token is `base64url(payload) "." base64url(HMAC-SHA256(key, purpose \\0 payload))[:16 bytes]`.
The payload carries a random public id (never a row id), so a token can neither be guessed nor
forged, and the purpose keeps an unsubscribe token from working as a survey token. The first key
signs; every key verifies, so keys can be rotated without breaking links already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

_MAC_BYTES = 16


class Signer:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a Signer needs at least one key")
        # HMAC state with each key absorbed once: a copy per token is half the cost of a new one
        self._keys = [hmac.new(key.encode(), digestmod=hashlib.sha256) for key in keys]

    def sign(self, purpose: str, payload: bytes) -> str:
        return f"{_b64(payload)}.{_b64(self._mac(self._keys[0], purpose, payload))}"

    def verify(self, purpose: str, token: str) -> bytes | None:
        """The payload of a genuine token for this purpose; None for anything else."""
        body, dot, mac = token.partition(".")
        if not dot or len(token) > 512:
            return None
        try:
            payload, given = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        if _b64(payload) != body or _b64(given) != mac:  # one spelling per token, no other
            return None
        for key in self._keys:
            if hmac.compare_digest(given, self._mac(key, purpose, payload)):
                return payload
        return None

    def keyed(self, purpose: str) -> hmac.HMAC:
        """The signing key's MAC with the purpose absorbed, for many payloads in a row."""
        mac = self._keys[0].copy()
        mac.update(purpose.encode() + b"\0")
        return mac

    @staticmethod
    def _mac(key: hmac.HMAC, purpose: str, payload: bytes) -> bytes:
        mac = key.copy()
        mac.update(purpose.encode() + b"\0" + payload)
        return mac.digest()[:_MAC_BYTES]


def survey_tokens(signer: Signer, invitation_public_id: str) -> list[str]:
    """The eleven score tokens of one survey email (0 to 10), in order: the same as
    `survey_token` for each score, with the shared part of the MAC absorbed once."""
    base = bytes.fromhex(invitation_public_id)
    shared = signer.keyed("survey")
    shared.update(base)
    tokens = []
    for score in range(11):
        mac = shared.copy()
        mac.update(bytes((score,)))
        tokens.append(f"{_b64(base + bytes((score,)))}.{_b64(mac.digest()[:_MAC_BYTES])}")
    return tokens


def survey_token(signer: Signer, invitation_public_id: str, score: int | None) -> str:
    """The token in a survey link: the invitation, and the score clicked (None: no score yet)."""
    payload = bytes.fromhex(invitation_public_id) + (bytes([score]) if score is not None else b"")
    return signer.sign("survey", payload)


def read_survey_token(signer: Signer, token: str) -> tuple[str, int | None] | None:
    payload = signer.verify("survey", token)
    if payload is None or len(payload) not in (16, 17):
        return None
    score = payload[16] if len(payload) == 17 else None
    if score is not None and score > 10:
        return None
    return payload[:16].hex(), score


def unsubscribe_token(signer: Signer, customer_public_id: str) -> str:
    return signer.sign("unsubscribe", bytes.fromhex(customer_public_id))


def read_unsubscribe_token(signer: Signer, token: str) -> str | None:
    payload = signer.verify("unsubscribe", token)
    return payload.hex() if payload is not None and len(payload) == 16 else None


def public_survey_token(signer: Signer, survey_id: str) -> str:
    """The token of a survey's public link: printed on invoices, so it names the survey only."""
    return signer.sign("public survey", survey_id.encode())


def read_public_survey_token(signer: Signer, token: str) -> str | None:
    payload = signer.verify("public survey", token)
    return payload.decode() if payload is not None and payload.isascii() else None


def public_answer_token(signer: Signer, answer_public_id: str) -> str:
    """The token in the email that asks a customer to confirm an answer given in their name."""
    return signer.sign("public answer", bytes.fromhex(answer_public_id))


def read_public_answer_token(signer: Signer, token: str) -> str | None:
    payload = signer.verify("public answer", token)
    return payload.hex() if payload is not None and len(payload) == 16 else None


def review_token(signer: Signer, review_ask_public_id: str, site: int) -> str:
    """The token in a review link: the review ask, and the site's place in it."""
    return signer.sign("review", bytes.fromhex(review_ask_public_id) + bytes([site]))


def read_review_token(signer: Signer, token: str) -> tuple[str, int] | None:
    payload = signer.verify("review", token)
    if payload is None or len(payload) != 17:
        return None
    return payload[:16].hex(), payload[16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
