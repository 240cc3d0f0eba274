"""Signed tokens: round trips, tampering, purposes, key rotation."""

from __future__ import annotations

import secrets

from hypothesis import given
from hypothesis import strategies as st

from daemon.mail.tokens import (
    Signer,
    read_survey_token,
    read_unsubscribe_token,
    survey_token,
    survey_tokens,
    unsubscribe_token,
)

KEY = "k" * 32
public_ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
scores = st.none() | st.integers(min_value=0, max_value=10)


@given(public_ids, scores)
def test_survey_tokens_round_trip(public_id: str, score: int | None) -> None:
    signer = Signer([KEY])
    assert read_survey_token(signer, survey_token(signer, public_id, score)) == (public_id, score)


@given(public_ids)
def test_an_emails_eleven_tokens_are_each_scores_token(public_id: str) -> None:
    signer = Signer([KEY, "old-key-" * 4])
    assert survey_tokens(signer, public_id) == [
        survey_token(signer, public_id, score) for score in range(11)
    ]


@given(public_ids, scores, st.data())
def test_any_changed_character_is_refused(
    public_id: str, score: int | None, data: st.DataObject
) -> None:
    signer = Signer([KEY])
    token = survey_token(signer, public_id, score)
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCabc012-_.=/+"))
    tampered = token[:at] + replacement + token[at + 1 :]
    if tampered != token:  # even where base64's slack would decode to the same bytes
        assert read_survey_token(signer, tampered) is None


@given(st.text(max_size=200))
def test_garbage_is_refused(text: str) -> None:
    assert read_survey_token(Signer([KEY]), text) is None
    assert read_unsubscribe_token(Signer([KEY]), text) is None


def test_a_token_for_one_purpose_does_not_work_for_another() -> None:
    signer = Signer([KEY])
    public_id = secrets.token_hex(16)
    assert read_survey_token(signer, unsubscribe_token(signer, public_id)) is None
    assert read_unsubscribe_token(signer, survey_token(signer, public_id, None)) is None


def test_rotation_old_keys_verify_the_new_key_signs() -> None:
    public_id = secrets.token_hex(16)
    old = survey_token(Signer(["old-key-" * 4]), public_id, 7)
    rotated = Signer(["new-key-" * 4, "old-key-" * 4])
    assert read_survey_token(rotated, old) == (public_id, 7)
    fresh = survey_token(rotated, public_id, 7)
    assert read_survey_token(Signer(["new-key-" * 4]), fresh) == (public_id, 7)
    assert read_survey_token(Signer(["other-key" * 4]), old) is None


def test_tokens_are_short_enough_for_a_url() -> None:
    token = survey_token(Signer([KEY]), secrets.token_hex(16), 10)
    assert len(token) < 60 and all(c.isalnum() or c in "-_." for c in token)
