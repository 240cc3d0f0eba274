"""The rules that keep a broken relay from suppressing customers (daemon/engine/refusals.py):
whom a refusal is about, and when a run of refusals pauses sending. Table-driven."""

from __future__ import annotations

import pytest

from daemon.engine.refusals import (
    About,
    Refusal,
    Seen,
    Stage,
    Streak,
    Verdict,
    about,
    judge,
    probe_wait,
)

RCPT, DATA = Stage.RCPT, Stage.DATA

# (where, the relay's reply, whom it is about)
ABOUT: list[tuple[Stage, str, About]] = [
    # about the recipient: only these may suppress
    (
        RCPT,
        "550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown",
        About.RECIPIENT,
    ),
    (RCPT, "550 5.1.2 Host unknown", About.RECIPIENT),
    (RCPT, "553 5.1.3 Bad recipient address syntax", About.RECIPIENT),
    (RCPT, "550 5.1.6 Recipient moved, no forwarding address", About.RECIPIENT),
    (RCPT, "556 5.1.10 Recipient address has null MX", About.RECIPIENT),
    (RCPT, "550 5.2.1 The email account that you tried to reach is disabled", About.RECIPIENT),
    (DATA, "550 5.1.1 The email account that you tried to reach does not exist", About.RECIPIENT),
    (RCPT, "550 No such user here", About.RECIPIENT),  # no enhanced status: the words
    (RCPT, "550 5.0.0 <ann@example.com>... User unknown", About.RECIPIENT),
    # about us: our connection, login, sender address, domain
    (Stage.CONNECT, "554 5.7.1 No SMTP service here", About.SENDER),
    (Stage.AUTH, "530 5.7.0 Authentication required", About.SENDER),
    (Stage.AUTH, "535 5.7.8 Authentication credentials invalid", About.SENDER),
    (Stage.MAIL, "550 5.7.1 Sender refused", About.SENDER),
    (Stage.MAIL, "553 5.1.1 <ann@example.com>: no such user", About.SENDER),  # at MAIL: ours
    (Stage.MAIL, "530 5.7.0 Authentication required", About.SENDER),
    (RCPT, "553 5.1.7 <hello@harborlane.example>: bad sender address syntax", About.SENDER),
    (
        RCPT,
        "550 5.1.8 <hello@harborlane.example>: Sender address rejected: Domain not found",
        About.SENDER,
    ),
    (
        RCPT,
        "554 5.7.1 <hello@harborlane.example>: Sender address rejected: Access denied",
        About.SENDER,
    ),
    (RCPT, "550 5.7.26 Unauthenticated email is not accepted (DMARC)", About.SENDER),
    (DATA, "554 5.7.8 Authentication credentials invalid", About.SENDER),
    # about neither: relaying, policy, content, or no telling: suppress nobody
    (RCPT, "554 5.7.1 <ann@example.com>: Relay access denied", About.OTHER),
    (RCPT, "550 5.7.1 Relaying denied", About.OTHER),
    (RCPT, "554 5.7.1 <ann@example.com>: Recipient address rejected: Access denied", About.OTHER),
    (RCPT, "550 5.7.0 Blocked by policy", About.OTHER),
    (RCPT, "550 Requested action not taken", About.OTHER),
    (RCPT, "552 5.2.2 Mailbox full", About.OTHER),  # the recipient's, but it may empty
    (RCPT, "550 5.7.1 user unknown", About.OTHER),  # the status names policy, not the mailbox
    (DATA, "554 5.7.0 Message rejected due to local policy", About.OTHER),
    (DATA, "552 5.3.4 Message size exceeds fixed limit", About.OTHER),
    (DATA, "554 5.6.0 message refused", About.OTHER),
    (RCPT, "554 Transaction failed", About.OTHER),
    (RCPT, "550 5.1.0 Address rejected", About.OTHER),
]


@pytest.mark.parametrize(("stage", "reply", "whom"), ABOUT, ids=[r for _, r, _ in ABOUT])
def test_whom_a_refusal_is_about(stage: Stage, reply: str, whom: About) -> None:
    assert about(Refusal(stage, reply)) is whom


def test_the_same_refusal_whoever_it_quotes() -> None:
    ann = Refusal(RCPT, "554 5.7.1 <ann@example.com>: Relay access denied")
    bob = Refusal(RCPT, "554 5.7.1 <Bob@Example.com>:  relay access denied")
    assert ann.words == bob.words == "<>: relay access denied"
    assert ann.status == "5.7.1" and Refusal(RCPT, "550 no such user").status is None
    assert ann.summary == "554 5.7.1 <…>: Relay access denied (the answer to RCPT TO)"


RELAY = "554 5.7.1 <{}>: Relay access denied"
POLICY = "554 5.7.0 Message rejected due to local policy"


def refused(row: int, to: str, reply: str = RELAY, stage: Stage = RCPT) -> Seen:
    return Seen(row, to, Refusal(stage, reply.format(to)))


def run(
    outcomes: list[Seen], *, paused: bool = False, probe: int | None = None, threshold: int = 3
) -> list[Verdict]:
    """Judge outcomes in order, as the sender does (the pause as the verdicts leave it)."""
    streak, verdicts = Streak(), []
    for seen in outcomes:
        verdict = judge(
            streak, seen, paused=paused, probe=seen.row_id == probe, threshold=threshold
        )
        streak = verdict.streak
        paused = (paused or verdict.pause is not None) and not verdict.resume
        verdicts.append(verdict)
    return verdicts


def summary(verdicts: list[Verdict]) -> list[str]:
    """Each verdict in a word: send on, hold, pause (with the rows refunded), resume."""
    words = []
    for v in verdicts:
        if v.resume:
            words.append("resume")
        elif v.pause is not None:
            words.append(f"pause{list(v.refund)}" if v.refund else "hold")
        else:
            words.append("-")
    return words


# (name, outcomes, paused at the start, the probe's row, threshold, the verdicts in words)
JUDGE: list[tuple[str, list[Seen], bool, int | None, int, list[str]]] = [
    (
        "the same refusal for three different recipients pauses; their tries are given back",
        [refused(1, "a@x.test"), refused(2, "b@x.test"), refused(3, "c@x.test")],
        False,
        None,
        3,
        ["-", "-", "pause[1, 2]"],
    ),
    (
        "then the rest in flight are held, the pause in force",
        [refused(i, f"{n}@x.test") for i, n in enumerate("abcde", 1)],
        False,
        None,
        3,
        ["-", "-", "pause[1, 2]", "hold", "hold"],
    ),
    (
        "a threshold of two pauses on the second",
        [refused(1, "a@x.test"), refused(2, "b@x.test")],
        False,
        None,
        2,
        ["-", "pause[1]"],
    ),
    (
        "the same recipient three times is not several recipients",
        [refused(1, "a@x.test"), refused(2, "A@x.test"), refused(3, "a@x.test")],
        False,
        None,
        3,
        ["-", "-", "-"],
    ),
    (
        "a delivery in between breaks the run",
        [
            refused(1, "a@x.test"),
            refused(2, "b@x.test"),
            Seen(3, "c@x.test"),
            refused(4, "d@x.test"),
            refused(5, "e@x.test"),
        ],
        False,
        None,
        3,
        ["-", "-", "-", "-", "-"],
    ),
    (
        "a refusal about a recipient breaks the run",
        [
            refused(1, "a@x.test"),
            refused(2, "b@x.test"),
            refused(3, "c@x.test", "550 5.1.1 <{}>: User unknown"),
            refused(4, "d@x.test"),
        ],
        False,
        None,
        3,
        ["-", "-", "-", "-"],
    ),
    (
        "a different refusal starts a new run",
        [
            refused(1, "a@x.test"),
            refused(2, "b@x.test", POLICY, DATA),
            refused(3, "c@x.test", POLICY, DATA),
            refused(4, "d@x.test", POLICY, DATA),
        ],
        False,
        None,
        3,
        ["-", "-", "-", "pause[2, 3]"],
    ),
    (
        "a refusal about us pauses at once",
        [refused(1, "a@x.test", "535 5.7.8 Authentication credentials invalid", Stage.AUTH)],
        False,
        None,
        3,
        ["hold"],
    ),
    (
        "a sender refused at RCPT pauses at once, the run so far keeps its tries",
        [
            refused(1, "a@x.test"),
            refused(2, "b@x.test", "554 5.7.1 <{}>: Sender address rejected: Access denied"),
        ],
        False,
        None,
        3,
        ["-", "hold"],
    ),
    (
        "paused: the probe delivered resumes",
        [Seen(7, "a@x.test")],
        True,
        7,
        3,
        ["resume"],
    ),
    (
        "paused: the probe's mailbox judged by the relay resumes (the relay works)",
        [refused(7, "a@x.test", "550 5.1.1 <{}>: User unknown")],
        True,
        7,
        3,
        ["resume"],
    ),
    (
        "paused: the probe refused again is held, still paused",
        [refused(7, "a@x.test")],
        True,
        7,
        3,
        ["hold"],
    ),
    (
        "paused: an email in flight before the pause, delivered, does not resume",
        [Seen(5, "a@x.test")],
        True,
        7,
        3,
        ["-"],
    ),
    (
        "paused: any refusal not about the recipient is held",
        [refused(5, "a@x.test", POLICY, DATA)],
        True,
        None,
        3,
        ["hold"],
    ),
]


@pytest.mark.parametrize(
    ("outcomes", "paused", "probe", "threshold", "expected"),
    [case[1:] for case in JUDGE],
    ids=[case[0] for case in JUDGE],
)
def test_when_refusals_pause_and_what_resumes(
    outcomes: list[Seen], paused: bool, probe: int | None, threshold: int, expected: list[str]
) -> None:
    assert summary(run(outcomes, paused=paused, probe=probe, threshold=threshold)) == expected


def test_a_held_row_is_one_whose_refusal_pauses() -> None:
    for verdict in run([refused(i, f"{n}@x.test") for i, n in enumerate("abcd", 1)]):
        assert verdict.hold == (verdict.pause is not None)


@pytest.mark.parametrize(
    ("previous", "expected"),
    [(None, 300.0), (300.0, 600.0), (600.0, 1200.0), (2400.0, 3600.0), (3600.0, 3600.0)],
)
def test_probes_wait_longer_each_time_up_to_the_longest(
    previous: float | None, expected: float
) -> None:
    assert probe_wait(previous, 300.0, 3600.0) == expected
