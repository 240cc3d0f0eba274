"""Replies: the new part of a reply, a score typed at its start, and praise. Tables of replies
as real mail clients write them, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.replies import InboundMail, judge_praise, leading_score, strip_quoted

no_files = settings(database=None)  # nothing written into the repo

# --- strip_quoted ----------------------------------------------------------------------------

GMAIL = (
    "Thanks, the crew was great!\r\n"
    "\r\n"
    "On Mon, Mar 2, 2026 at 10:15 AM Demo Plumbing <hello@vouch.example>\r\n"
    "wrote:\r\n"
    "\r\n"
    "> Hi Anna,\r\n"
    ">\r\n"
    "> How likely are you to recommend Demo Plumbing to a friend?\r\n"
    ">\r\n"
)
GMAIL_ONE_LINE = (
    "9 - great crew\n\n"
    "On Mon, 2 Mar 2026 at 10:15, Demo Plumbing <hello@vouch.example> wrote:\n"
    "> How did we do?\n"
)
OUTLOOK = (
    "9 - great crew, very tidy.\r\n"
    "\r\n"
    "________________________________\r\n"
    "From: Demo Plumbing <hello@vouch.example>\r\n"
    "Sent: Monday, March 2, 2026 10:15 AM\r\n"
    "To: Anna Example <anna@example.com>\r\n"
    "Subject: How did we do?\r\n"
    "\r\n"
    "Hi Anna,\r\n"
    "How likely are you to recommend Demo Plumbing to a friend?\r\n"
)
OUTLOOK_NO_RULE = (
    "Great job, thank you.\n"
    "\n"
    "From: Demo Plumbing <hello@vouch.example>\n"
    "Sent: Monday, March 2, 2026 10:15 AM\n"
    "To: Anna Example <anna@example.com>\n"
    "Subject: How did we do?\n"
    "\n"
    "Hi Anna,\n"
)
OUTLOOK_ORIGINAL_MESSAGE = (
    "Could you come back for the tap?\n"
    "\n"
    "-----Original Message-----\n"
    "From: Demo Plumbing [mailto:hello@vouch.example]\n"
    "Sent: Monday, March 2, 2026 10:15 AM\n"
    "Subject: How did we do?\n"
)
APPLE_IPHONE = (
    "You saved us, couldn’t be happier.\n"
    "\n"
    "Sent from my iPhone\n"
    "\n"
    "> On 2 Mar 2026, at 10:15, Demo Plumbing <hello@vouch.example> wrote:\n"
    ">\n"
    "> Hi Anna,\n"
)
APPLE_MAIL = (
    "10\n"
    "\n"
    "Anna\n"
    "\n"
    "On 2 Mar 2026, at 10:15, Demo Plumbing <hello@vouch.example> wrote:\n"
    "\n"
    "> Hi Anna,\n"
)
FRENCH_GMAIL = (
    "Super équipe, merci !\n"
    "\n"
    "Le lun. 2 mars 2026 à 10:15, Demo Plomberie <hello@vouch.example> a écrit :\n"
    "> Bonjour Anne,\n"
)
FRENCH_THUNDERBIRD = (
    "8 – un peu en retard mais très propre.\n"
    "\n"
    "Le 02/03/2026 à 10:15, Demo Plomberie a\u00a0écrit\u00a0:\n"
    "> Bonjour Anne,\n"
)
FRENCH_OUTLOOK = (
    "Très bon travail.\n"
    "\n"
    "De : Demo Plomberie <hello@vouch.example>\n"
    "Envoyé : lundi 2 mars 2026 10:15\n"
    "À : Anne Exemple <anne@example.fr>\n"
    "Objet : Comment était notre travail ?\n"
)
GERMAN_THUNDERBIRD = (
    "Alles bestens, danke!\n\nAm 02.03.2026 um 10:15 schrieb Demo Sanitär:\n> Hallo Anna,\n"
)
GERMAN_GMAIL = (
    "10, sehr zufrieden\n"
    "\n"
    "Am Mo., 2. März 2026 um 10:15 Uhr schrieb Demo Sanitär <\n"
    "hello@vouch.example>:\n"
    "> Hallo Anna,\n"
)
GERMAN_OUTLOOK = (
    "Sehr zufrieden.\n"
    "\n"
    "Von: Demo Sanitär <hello@vouch.example>\n"
    "Gesendet: Montag, 2. März 2026 10:15\n"
    "An: Anna Beispiel <anna@example.de>\n"
    "Betreff: Wie waren wir?\n"
)
GERMAN_MOBILE = "Top Arbeit!\n\nVon meinem iPhone gesendet\n\n> Am 02.03.2026 schrieb Demo:\n"
SIGNATURE = "Great work on the roof.\n\n-- \nTom Example\nExample Bakery Ltd\n"
INTERLEAVED = (
    "> How likely are you to recommend us?\n"
    "9\n"
    "> Anything we could do better?\n"
    "Call before you come.\n"
)
BOTTOM_POSTED = (
    "On Mon, 2 Mar 2026 at 10:15, Demo Plumbing <hello@vouch.example> wrote:\n"
    "> How did we do?\n"
    "\n"
    "Very well, thank you.\n"
    "\n"
    "-- \n"
    "Anna\n"
)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(GMAIL, "Thanks, the crew was great!", id="gmail-wrapped-header-crlf"),
        pytest.param(GMAIL_ONE_LINE, "9 - great crew", id="gmail"),
        pytest.param(OUTLOOK, "9 - great crew, very tidy.", id="outlook"),
        pytest.param(OUTLOOK_NO_RULE, "Great job, thank you.", id="outlook-block"),
        pytest.param(
            OUTLOOK_ORIGINAL_MESSAGE, "Could you come back for the tap?", id="original-message"
        ),
        pytest.param(APPLE_IPHONE, "You saved us, couldn’t be happier.", id="iphone"),
        pytest.param(APPLE_MAIL, "10\n\nAnna", id="apple-mail"),
        pytest.param(FRENCH_GMAIL, "Super équipe, merci !", id="french-gmail"),
        pytest.param(
            FRENCH_THUNDERBIRD, "8 – un peu en retard mais très propre.", id="french-thunderbird"
        ),
        pytest.param(FRENCH_OUTLOOK, "Très bon travail.", id="french-outlook"),
        pytest.param(GERMAN_THUNDERBIRD, "Alles bestens, danke!", id="german-thunderbird"),
        pytest.param(GERMAN_GMAIL, "10, sehr zufrieden", id="german-gmail-wrapped"),
        pytest.param(GERMAN_OUTLOOK, "Sehr zufrieden.", id="german-outlook"),
        pytest.param(GERMAN_MOBILE, "Top Arbeit!", id="german-mobile"),
        pytest.param(SIGNATURE, "Great work on the roof.", id="signature"),
        pytest.param(INTERLEAVED, "9\nCall before you come.", id="interleaved"),
        pytest.param(BOTTOM_POSTED, "Very well, thank you.", id="bottom-posted"),
        pytest.param(
            "Line one\r\nline two\rline three", "Line one\nline two\nline three", id="crlf"
        ),
        pytest.param("  \n\nHello\n\n\n\nthere  \n\n", "Hello\n\nthere", id="blank-runs"),
    ],
)
def test_strip_quoted_keeps_only_the_new_part(reply: str, expected: str) -> None:
    assert strip_quoted(reply) == expected


@pytest.mark.parametrize(
    "own_words",
    [
        "On time and on budget, thank you.",
        "On Monday the crew arrived early.\nAnna wrote the cheque that evening.",
        "From: the whole family, thank you!\nWe love the kitchen.",
        "Great work -- really.",
        "Price: fair\nTo: be honest, the best we have had.",
        "Sent the photos yesterday, did they arrive?",
        "On the invoice you wrote:\n“£450”, but we agreed on £400.",
        "on the phone Anna wrote: call first",
    ],
)
def test_strip_quoted_leaves_the_customers_own_words_alone(own_words: str) -> None:
    assert strip_quoted(own_words) == own_words


@pytest.mark.parametrize(
    "only_quote",
    [
        "> How did we do?\n>\n> Demo Plumbing\n",
        "On Mon, 2 Mar 2026 at 10:15, Demo <hello@vouch.example> wrote:\n> How did we do?\n",
        "-----Original Message-----\nFrom: Demo\nSubject: How did we do?\n",
        "",
        "   \r\n ",
    ],
)
def test_a_reply_with_nothing_of_its_own_is_empty(only_quote: str) -> None:
    assert strip_quoted(only_quote) == ""


def test_a_hostile_reply_is_handled_in_one_pass() -> None:
    nested = "On Mon, Demo wrote:\n> q\n" * 50_000  # as deep as a 1 MB message allows
    assert strip_quoted(nested + "the answer") == "the answer"
    long_line = "On " + "x" * 1_000_000 + " wrote:"
    assert strip_quoted(long_line) == long_line


FRAGMENTS = st.sampled_from(
    [
        "\n",
        "\r\n",
        "\r",
        "> ",
        ">",
        " ",
        "-- ",
        "--",
        "_" * 32,
        "On Mon, 2 Mar 2026, Demo",
        " wrote:",
        "Le lun., Demo a écrit :",
        "Am 2.3. schrieb Demo:",
        "From: Demo",
        "Sent: Mon",
        "To: Anna",
        "Subject: Hi",
        "-----Original Message-----",
        "Sent from my iPhone",
        "9",
        "great crew",
        "é",
        "\u2028",
        "\x00",
    ]
)
REPLIES = st.lists(FRAGMENTS | st.text(max_size=20), max_size=40).map("".join)


@no_files
@given(REPLIES)
def test_strip_quoted_never_grows_and_never_keeps_a_quoted_line(reply: str) -> None:
    stripped = strip_quoted(reply)
    assert len(stripped) <= len(reply)
    assert not any(line.lstrip().startswith(">") for line in stripped.split("\n"))
    assert stripped == stripped.strip()


# --- leading_score ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("9 - great crew", (9, "great crew")),
        ("10!", (10, "")),
        ("  7. ok", (7, "ok")),
        ("8/10 good job", (8, "good job")),
        ("8 / 10", (8, "")),
        ("10 out of 10, would hire again", (10, "would hire again")),
        ("Score: 9", (9, "")),
        ("rating 6 - late twice", (6, "late twice")),
        ("Note : 9 – équipe au top", (9, "équipe au top")),
        ("0", (0, "")),
        ("0 - never again", (0, "never again")),
        ("9\n\nGreat crew, thanks", (9, "Great crew, thanks")),
        ("9 great crew", (9, "great crew")),
        ("9, great crew", (9, "great crew")),
        ("9: great crew", (9, "great crew")),
        ("10 :) thanks", (10, "thanks")),
        ("5 - the 2 guys were late", (5, "the 2 guys were late")),
        ("9 (would be 10 with a call first)", (9, "(would be 10 with a call first)")),
    ],
)
def test_a_number_from_0_to_10_at_the_start_is_a_score(
    reply: str, expected: tuple[int, str]
) -> None:
    assert leading_score(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "100",
        "11",
        "2026 was great",
        "3 weeks late",
        "2 guys came, both great",
        "10 minutes late but fine",
        "9 or 10",
        "5 stars",
        "3 more things to fix",
        "1 question: when is the invoice due?",
        "9.5",
        "9,5 - almost perfect",
        "10:30 works for me",
        "9am tomorrow?",
        "3% off next time?",
        "5/5",
        "3/4 of the job is done",
        "8 - 9",
        "9?",
        "2nd visit was better",
        "-3",
        "#1 plumber",
        "Great crew, 9",
        "",
        "   ",
        "Hi, 9 - great crew",
    ],
)
def test_anything_else_is_not_a_score(reply: str) -> None:
    assert leading_score(reply) is None


@no_files
@given(st.text(max_size=40))
def test_leading_score_only_returns_0_to_10_and_a_comment_from_the_text(reply: str) -> None:
    found = leading_score(reply)
    if found is not None:
        score, comment = found
        assert 0 <= score <= 10
        assert comment in reply
        assert comment == comment.strip()


@no_files
@given(
    st.integers(0, 10),
    st.sampled_from(["", " - ", " – ", ". ", "! ", ": ", ", ", "/10 ", " out of 10 ", "\n\n"]),
    st.sampled_from(["great crew", "Late, but tidy.", "(call first)", "merci !", "sehr gut"]),
)
def test_every_score_with_a_separator_and_a_comment_is_read(
    score: int, separator: str, comment: str
) -> None:
    reply = f"{score}{separator}{comment}" if separator else f"{score}"
    assert leading_score(reply) == (score, comment if separator else "")


# --- judge_praise ----------------------------------------------------------------------------

PRAISE = [
    "You saved us, couldn't be happier.",
    "We couldn’t be happier with the new kitchen. The crew was friendly and tidy.",
    "Amazing job, the kitchen looks fantastic, thank you!",
    "You guys went above and beyond. Highly recommend!",
    "Can't thank you enough for fixing the boiler on a Sunday.",
    "The crew were friendly, professional and fast. The kitchen looks great.",
    "I can't recommend you highly enough, truly top-notch work.",
    "Wonderful work, we love it!",
    "Hi Anna,\n\nYou saved the day, the new roof held through the storm.\nBrilliant work!\n\n"
    "Best regards,\nTom",
    "Sorry for the slow reply!\nYou guys were amazing, the kitchen is perfect.",
    "Hey you guys rock, the new deck is perfect!",
]


@pytest.mark.parametrize("reply", PRAISE)
def test_strong_unsolicited_praise_is_a_testimonial(reply: str) -> None:
    praise = judge_praise(reply)
    assert praise.is_praise, praise.explanation
    assert praise.compound >= 0.6
    expected = f"Taken as praise: sentiment +{praise.compound:.2f} (threshold +0.60); strongest"
    assert praise.explanation.startswith(expected)


def test_the_explanation_quotes_the_strongest_sentence() -> None:
    praise = judge_praise("The crew came on Tuesday. Amazing job, the kitchen looks fantastic!")
    assert praise.is_praise
    assert praise.explanation == (
        f"Taken as praise: sentiment +{praise.compound:.2f} (threshold +0.60); "
        "strongest sentence: “Amazing job, the kitchen looks fantastic!”"
    )


NOT_PRAISE = [
    ("Thanks", "Not taken as praise: the reply has only a greeting, thanks or a sign-off"),
    ("Thank you so much!!", "the reply has only a greeting, thanks or a sign-off"),
    ("Best regards,\nAnna", "the reply has only a greeting, thanks or a sign-off"),
    ("", "Not taken as praise: the reply has no text of its own"),
    ("Great job!", "“Great job!” is too short for a testimonial (2 words; at least 3 needed)"),
    ("Dear Demo Plumbing team,\n\nGreat job!\n\nKind regards,\nAnna Example", "“Great job!”"),
    (
        "Great crew but the invoice is wrong and nobody answers",
        "an open problem (“nobody answers”)",
    ),
    (
        "Great crew, fantastic work, truly amazing. The invoice is wrong though.",
        "one sentence is negative (−0.48): “The invoice is wrong though.”",
    ),
    (
        "Good work, although the cleanup was disappointing.",
        "one sentence is negative (−0.49): “Good work, although the cleanup was disappointing.”",
    ),
    ("Still waiting for the invoice, otherwise great work.", "open problem (“Still waiting”)"),
    ("The new heater is not working. Great guys though.", "open problem (“is not working”)"),
    (
        "Amazing work! Could you send the invoice again? And when will you fix the door?",
        "it reads as a request (2 of 3 sentences are questions)",
    ),
    ("OK, see you on Tuesday at nine.", "Not taken as praise: sentiment +0.00 is below +0.60"),
    ("Thanks a lot, have a great weekend!", "sentiment +0.44 is below +0.60"),
    ("The crew arrived at nine and left at five.", "sentiment +0.00 is below +0.60"),
    ("Merci beaucoup, travail excellent, je suis très content.", "is below +0.60"),
]


@pytest.mark.parametrize(("reply", "reason"), NOT_PRAISE)
def test_anything_else_is_stored_for_the_owner_with_the_reason(reply: str, reason: str) -> None:
    praise = judge_praise(reply)
    assert not praise.is_praise
    assert praise.explanation.startswith("Not taken as praise: ")
    assert reason in praise.explanation


def test_the_threshold_is_the_callers() -> None:
    reply = "Wonderful work, we love it!"
    assert judge_praise(reply).is_praise
    strict = judge_praise(reply, threshold=0.95)
    assert not strict.is_praise
    assert strict.explanation == (
        f"Not taken as praise: sentiment +{strict.compound:.2f} is below +0.95"
    )


def test_a_letter_is_left_to_the_owner() -> None:
    letter = "The crew were friendly, professional and fast. " * 120
    praise = judge_praise(letter)
    assert not praise.is_praise
    assert praise.explanation == (
        "Not taken as praise: 5,640 characters is a letter for the owner to read, "
        "not a testimonial (at most 5,000)"
    )


def test_a_long_sentence_is_clipped_in_the_explanation() -> None:
    sentence = "Absolutely wonderful " + "and very tidy " * 10 + "crew!"
    praise = judge_praise(sentence)
    assert praise.is_praise
    quoted = praise.explanation.split("strongest sentence: ")[1]
    assert len(quoted) == 82  # “ + 79 characters + … + ”
    assert quoted.endswith("…”")


# --- InboundMail -----------------------------------------------------------------------------


def test_inbound_mail_can_be_built_from_the_json_fields_alone() -> None:
    mail = InboundMail(
        from_addr="anna@example.com",
        to_addrs=["reply@vouch.example"],
        subject="Re: How did we do?",
        text="9 - great crew",
        in_reply_to="<abc@vouch.example>",
    )
    assert mail.references == []
    assert mail.message_id is None
    assert mail.raw == b""
