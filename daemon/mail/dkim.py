"""DKIM signatures (RFC 6376) on every outgoing message: relaxed/relaxed, rsa-sha256.

dkimpy parses the message, canonicalises it and hashes the header fields exactly as its verifier
(and every receiver) will; the RSA signature itself is made by `cryptography` (OpenSSL). dkimpy's
own `dkim.sign` does the RSA step in pure Python and re-parses the PEM key on every call: about
21 ms a message with a 2048-bit key, where this signer takes about 2 ms. The key is loaded (and
checked, ~80 ms) once per config, by `DkimSigner.load` at `load_config`.

Messages are signed once, when they are rendered into the outbox (`daemon.mail.compose`), so every
retry sends the same signed bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from dkim.canonicalization import CanonicalizationPolicy

#: The header fields signed when present, in this order (RFC 6376 5.4.1 and RFC 8058 section 4).
SIGNED_FIELDS = (
    b"from",
    b"to",
    b"reply-to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
MIN_KEY_BITS = 1024
_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_B_WIDTH = 64  # characters of the signature on each folded line


class DkimKeyError(ValueError):
    """The key file is missing or is not an unencrypted PEM RSA private key."""


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file (PKCS#1 or PKCS#8, unencrypted); DkimKeyError if not."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DkimKeyError(f"file not found: {path}") from None
    except OSError as exc:
        raise DkimKeyError(f"cannot read {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise DkimKeyError(
            f"{path} is encrypted: write the key without a passphrase (it is read at start-up)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise DkimKeyError(
            f"{path} is not a PEM private key (make one with: openssl genrsa -out dkim.pem 2048)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimKeyError(f"{path} is not an RSA key (DKIM here signs with rsa-sha256)")
    if key.key_size < MIN_KEY_BITS:
        raise DkimKeyError(
            f"{path} is a {key.key_size}-bit key: receivers want at least {MIN_KEY_BITS} bits "
            "(2048 recommended)"
        )
    return key


def public_key_record(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The DKIM TXT record for a key: `v=DKIM1; k=rsa; p=<base64 DER SubjectPublicKeyInfo>`."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


class DkimSigner:
    """Signs flattened messages (CRLF) for one domain and selector; built once per config."""

    def __init__(self, key: rsa.RSAPrivateKey, *, domain: str, selector: str) -> None:
        self.key = key
        self.domain = domain
        self.selector = selector
        self._d = domain.encode("ascii")
        self._s = selector.encode("ascii")

    @classmethod
    def load(cls, key_file: Path, *, domain: str, selector: str) -> DkimSigner:
        return cls(load_private_key(key_file), domain=domain, selector=selector)

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def dns_record(self) -> str:
        return public_key_record(self.key)

    def sign(self, message: bytes, now: datetime) -> bytes:
        """The message with a DKIM-Signature header field first; `now` becomes the t= tag."""
        headers, body = dkim.rfc822_parse(message)
        present = {name.lower() for name, _ in headers}
        signed = [name for name in SIGNED_FIELDS if name in present]
        if b"from" not in signed:
            raise ValueError("a message to sign needs a From header field")
        body_hash = base64.b64encode(hashlib.sha256(_POLICY.canonicalize_body(body)).digest())
        # The value with an empty b=; folded as it will be sent (relaxed canonicalisation
        # unfolds it, and the verifier empties b= the same way before hashing).
        value = (
            b" v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + self._d + b"; s=" + self._s + b";\r\n"
            b" t=" + str(int(now.timestamp())).encode("ascii") + b";\r\n"
            b" h=" + b":".join(signed) + b";\r\n"
            b" bh=" + body_hash + b";\r\n"
            b" b="
        )
        hashed = _Collect()
        dkim.hash_headers(
            hashed,
            _POLICY,
            _POLICY.canonicalize_headers(headers),
            signed,
            (b"DKIM-Signature", value),
            {},
        )
        signature = base64.b64encode(
            self.key.sign(b"".join(hashed.parts), padding.PKCS1v15(), hashes.SHA256())
        )
        lines = [signature[i : i + _B_WIDTH] for i in range(0, len(signature), _B_WIDTH)]
        return b"DKIM-Signature:" + value + b"\r\n  ".join(lines) + b"\r\n" + message


class _Collect:
    """What `dkim.hash_headers` feeds its hasher, kept for the RSA signature over it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def update(self, data: bytes) -> None:
        self.parts.append(data)


def signed_fields(message: bytes) -> Sequence[str]:
    """The h= list of a signed message's DKIM-Signature, lower case (for tests and checks)."""
    sig = dkim.util.parse_tag_value(_signature_value(message))
    return [name.strip().decode("ascii") for name in sig[b"h"].split(b":")]


def _signature_value(message: bytes) -> bytes:
    headers, _ = dkim.rfc822_parse(message)
    for name, value in headers:
        if name.lower() == b"dkim-signature":
            return bytes(value)
    raise ValueError("no DKIM-Signature")
