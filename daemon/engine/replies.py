"""Replies to Vouch emails: the new part of a reply, a score typed at its start, and praise.

Pure: no I/O. (vaderSentiment reads the lexicon that ships inside its package once, on the first
`judge_praise` call; nothing happens at import.)

- `strip_quoted(text)` keeps what the customer wrote, not the email they answered.
- `leading_score(text)` reads "9 - great crew" as score 9 with the comment "great crew".
- `InboundMail` is a reply as it arrived, by SMTP (daemon/intake/inbound_smtp.py) or HTTP.
- `judge_praise(text)` decides whether a reply is an unsolicited testimonial (a moment to ask for
  a referral) and says why in one sentence for the owner. When in doubt it says no: the reply is
  then stored for the owner, who can still record it as a testimonial by hand, whereas a wrong
  yes would ask an unhappy customer for a referral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer,
)


@dataclass(frozen=True)
class InboundMail:
    """A reply as it reached Vouch: by the inbound SMTP listener or by `POST /v1/inbound`.

    `text` is the whole plain text (quote included); message ids keep their angle brackets, as in
    the headers ("<abc@example.com>").
    """

    from_addr: str
    to_addrs: list[str]
    subject: str
    text: str
    in_reply_to: str | None
    references: list[str] = field(default_factory=list)
    message_id: str | None = None
    raw: bytes = b""


# --- the new part of a reply ---------------------------------------------------------------------

_HEADER_MAX = 400  # an attribution line is short; longer lines are the customer's own text

# "On Mon, 2 Mar 2026 at 10:15, Vouch <hello@example.com> wrote:" and its cousins.
_ATTRIBUTION = re.compile(
    r"\s*(?-i:On|Le|Am|El|Op|Il|Em|Den)\s.*"
    r"\b(?:wrote|a\s+écrit|schrieb|escribió|schreef|ha\s+scritto|escreveu|skrev)\b[^:]{0,200}:\s*",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"\s*(?:"
    r"-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original"
    r"|Forwarded message|Message transféré|Weitergeleitete Nachricht)\s*-{2,}"
    r"|_{10,}"  # Outlook's rule above its header block
    r"|--"  # the signature delimiter ("-- "; the trailing space is often lost)
    r")\s*",
    re.IGNORECASE,
)
_MOBILE_SIGNATURE = re.compile(
    r"\s*(?:Sent from my \S+|Sent from (?:Mail|Outlook|Yahoo Mail)\b|Get Outlook for \S+"
    r"|Envoyé de mon \S+|Von meinem \S+ gesendet|Gesendet von meinem \S+|Enviado desde mi \S+)",
    re.IGNORECASE,
)
# Outlook's header block: "From: …" then "Sent: …", "To: …", "Subject: …" (also French, German).
_BLOCK_FROM = re.compile(r"\s*\*?(?:From|De|Von)\s?\*?:", re.IGNORECASE)
_BLOCK_FIELD = re.compile(
    r"\s*\*?(?:Sent|Date|Envoyé|Gesendet|Datum|To|À|An|Cc|Subject|Objet|Betreff)\s?\*?:",
    re.IGNORECASE,
)


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_outlook_block(lines: list[str], i: int) -> bool:
    if not _BLOCK_FROM.match(lines[i]):
        return False
    following = [line for line in lines[i + 1 : i + 6] if line.strip()][:4]
    return sum(1 for line in following if _BLOCK_FIELD.match(line)) >= 2


def _marker(lines: list[str], begin: int) -> tuple[int, int, bool] | None:
    """The first reply header or separator from line `begin` on: (its first line, the line after
    it, whether it is an attribution)."""
    for i in range(begin, len(lines)):
        line = lines[i]
        if len(line) > _HEADER_MAX or _quoted(line):
            continue
        if _ATTRIBUTION.fullmatch(line):
            return i, i + 1, True
        wrapped = f"{line} {lines[i + 1]}" if i + 1 < len(lines) else ""
        if len(wrapped) <= _HEADER_MAX and _ATTRIBUTION.fullmatch(wrapped):  # over two lines
            return i, i + 2, True
        if _SEPARATOR.fullmatch(line) or _MOBILE_SIGNATURE.match(line):
            return i, i + 1, False
        if _is_outlook_block(lines, i):
            return i, i + 1, False
    return None


def _tidy(lines: list[str]) -> str:
    """The unquoted lines, trailing spaces and runs of blank lines removed."""
    kept: list[str] = []
    for line in lines:
        if _quoted(line):
            continue
        line = line.rstrip()
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply: without quoted lines ("> …") and without everything from the
    first reply header or separator on ("On … wrote:", "Le … a écrit :", "Am … schrieb …:",
    "-----Original Message-----", Outlook's "From:/Sent:/To:/Subject:" block, a line of
    underscores, "Sent from my iPhone", the "-- " signature delimiter). Line ends become "\\n".

    Conservative: text written above the first header is always kept. When there is none, a
    bottom-posted answer (text below the quoted lines after "On … wrote:") is returned instead,
    and an "On … wrote:" line with no quoted line under it is taken as the customer's own words;
    "" only when the reply holds nothing but the quote.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    last_quoted = max((i for i, line in enumerate(lines) if _quoted(line)), default=-1)
    top = begin = 0
    while (found := _marker(lines, begin)) is not None:
        start, end, attribution = found
        above = _tidy(lines[top:start])
        if above or not attribution:
            return above
        if last_quoted >= end:
            top = end  # bottom-posted: the answer is below the quoted lines
        # else "On … wrote:" with no quote under it: the customer's own words, kept
        begin = end
    return _tidy(lines[top:])


# --- a score typed at the start of a reply --------------------------------------------------------

_LABEL = re.compile(r"(?:score|rating|note|bewertung)\s*[:=]?\s*", re.IGNORECASE)
_NUMBER = re.compile(r"(10|[0-9])(?![0-9])")
_OUT_OF_TEN = re.compile(r"\s*(?:/|out of|sur|von)\s*10(?![0-9]|[.,][0-9])", re.IGNORECASE)
_COMMENT_START = " \t\n-–—:.,;!)"
# A number followed by one of these words is a quantity, a time or a price, not a score.
_UNIT_WORDS = frozenset(
    """
    sec secs second seconds min mins minute minutes h hr hrs hour hours day days week weeks wk wks
    month months year years yr yrs am pm a.m. p.m. o'clock oclock today tomorrow tonight morning
    afternoon evening night in at on by to or and of more less other extra times x
    people person persons guys men workers visit visits item items thing things question questions
    issue issues problem problems star stars point points room rooms window windows door doors
    box boxes piece pieces unit units percent % $ € £ euro euros eur dollar dollars usd buck bucks
    pound pounds gbp quid k kg km m cm mm ft foot feet inch inches meter meters metre metres mile
    miles sq square
    """.split()  # noqa: SIM905 (a word list reads better as words)
)


def leading_score(text: str) -> tuple[int, str] | None:
    """A score typed at the very start of a reply: (score, the rest as the comment) or None.

    Call it on `strip_quoted` output. The rule, in order:
    - leading whitespace and one label ("Score:", "Rating:", "Note :", "Bewertung:") are skipped;
    - then a whole number 0–10 with no digit after it ("100", "11", "2026" are not scores);
    - an optional "/10", "out of 10" ("8/10 good job"); any other "/" ("3/4", "5/5") is not;
    - then the end, whitespace, or one of . , : ; ! ) - – —; but "9.5" and "9,5" (decimals),
      "10:30" (a time) and "9?" (a question) are not scores, nor is a number glued to anything
      else ("9am", "3%", "2nd");
    - a number followed, after whitespace only, by a unit or counting word ("3 weeks late",
      "2 guys came", "9 or 10", "5 stars") is a quantity, not a score;
    - a comment that starts with another number ("8 - 9", "9, 10 even") is ambiguous: not a score.
    The comment is the rest with the separators in front of it removed ("10!" → (10, "")).
    """
    rest = text.lstrip()
    label = _LABEL.match(rest)
    if label:
        rest = rest[label.end() :]
    number = _NUMBER.match(rest)
    if number is None:
        return None
    score = int(number.group(1))
    rest = rest[number.end() :]
    out_of_ten = _OUT_OF_TEN.match(rest)
    if out_of_ten:
        rest = rest[out_of_ten.end() :]
    if rest:
        first = rest[0]
        if first.isspace():
            words = rest.split(maxsplit=1)
            if words and words[0].lower().rstrip(".,;:!") in _UNIT_WORDS:
                return None
        elif first not in _COMMENT_START:
            return None  # "9am", "3%", "5/5", "9?"
        elif first in ".,:" and rest[1:2].isdigit():
            return None  # "9.5", "9,5", "10:30"
    comment = rest.lstrip(_COMMENT_START).strip()
    if comment[:1].isdigit():
        return None
    return score, comment


# --- praise ------------------------------------------------------------------------------------

PRAISE_THRESHOLD = 0.6  # VADER compound score at which a reply counts as praise
NEGATIVE_SENTENCE = -0.25  # one sentence (or clause) at or below this makes a reply not praise
MIN_WORDS = 3  # fewer words (after greetings, thanks and the sign-off) is politeness
MAX_CHARS = 5_000  # longer is a letter for the owner to read, not a testimonial (and VADER is slow)
_QUOTE_MAX = 80


@dataclass(frozen=True)
class Praise:
    """Whether a reply is an unsolicited testimonial, the sentiment it was judged on, and why."""

    is_praise: bool
    compound: float
    explanation: str


# VADER reads some of the strongest praise as negative ("couldn't be happier" negates a positive
# word) or as nothing ("above and beyond"). These idioms are scored as "truly excellent" (+0.77).
_NOT = r"(?:can't|cant|cannot|can not|couldn't|couldnt|could not)"
_IDIOM = re.compile(
    "|".join(
        [
            rf"\b{_NOT} (?:be|have been) (?:any )?(?:happier|more \w+ed)\b",
            rf"\b{_NOT} thank (?:\w+ ){{1,3}}enough\b",
            rf"\b{_NOT} recommend (?:\w+ ){{0,3}}enough\b",
            rf"\b{_NOT} say enough good things\b",
            rf"\b{_NOT} (?:have )?asked? for (?:\w+ )?(?:better|more)\b",
            r"\bsaved (?:us|me|the day|our \w+|my \w+)\b",
            r"\babove and beyond\b",
            r"\bexceeded (?:all )?(?:of )?(?:our|my) expectations\b",
            r"\bnailed it\b",
            r"\bnothing but (?:praise|good things)\b",
            r"\bover the moon\b",
            r"\btop[- ]notch\b",
            r"\bworth every (?:penny|cent)\b",
            r"\byou (?:guys |all )?rock\b",
        ]
    ),
    re.IGNORECASE,
)
# Phrases that say something is still wrong, which VADER often scores as neutral.
_OPEN_PROBLEM = re.compile(
    r"\b(?:still (?:waiting|not|no|broken|leaking)|not working|stopped working"
    r"|(?:doesn't|does not|don't|do not|isn't|is not) work(?:ing)?"
    r"|refund|overcharged|(?:nobody|no one) (?:answers|answered|called|calls|replied|responded)"
    r"|no (?:response|reply|answer)|never (?:showed|came|called|got back)"
    r"|didn't (?:show|turn) up)\b",
    re.IGNORECASE,
)
_CONTRAST = re.compile(r"\b(?:but|however|although|though|except)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_GREETING = re.compile(
    r"\W*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|bonjour|hallo|guten tag)\b"
    r"(?:\s+(?:(?-i:[A-Z])[\w'.&-]*|team|all|there|everyone|folks|guys)){0,3}\s*[,!:]?\s*",
    re.IGNORECASE,
)
_VALEDICTION = re.compile(
    r"\W*(?:(?:best|kind|warm|warmest|kindest|many|with) (?:regards|wishes|thanks)|regards|best"
    r"|cheers|sincerely|yours(?: truly| sincerely)?|all the best|take care"
    r"|thanks|thank you|many thanks|thanks (?:again|a lot|so much|very much|a million)"
    r"|thank you (?:again|so much|very much)|cordialement|bien à vous|merci(?: beaucoup)?"
    r"|mit freundlichen grüßen|viele grüße|liebe grüße|beste grüße|lg|mfg|danke(?: schön)?"
    r"|vielen dank)(?:,\s*(?-i:[A-Z])[\w'-]*)?\W*",
    re.IGNORECASE,
)
_WELL_WISHES = re.compile(
    r"\b(?:have|enjoy) a (?:great|good|nice|wonderful|lovely) (?:day|weekend|week|evening)\b[.!]*",
    re.IGNORECASE,
)


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def _compound(text: str) -> float:
    plain = _IDIOM.sub("truly excellent", text)
    return float(_analyzer().polarity_scores(plain)["compound"])


def _content(text: str) -> str:
    """The text without a greeting line ("Dear Anna,"), well-wishes and the sign-off, which VADER
    reads as praise ("Dear", "Kind regards", "Cheers", "Have a great weekend!")."""
    lines = text.replace("’", "'").strip().split("\n")
    if lines and _GREETING.fullmatch(lines[0]):
        lines = lines[1:]
    for i, line in enumerate(lines):
        after = [rest for rest in lines[i + 1 :] if rest.strip()]
        if (
            _VALEDICTION.fullmatch(line)
            and len(after) <= 4
            and all(len(rest.split()) <= 5 for rest in after)
        ):
            lines = lines[:i]
            break
    return _WELL_WISHES.sub("", "\n".join(lines)).strip()


def _sentences(text: str) -> list[str]:
    """Sentences: paragraphs split at . ! ? …; a single line break is just a wrapped line."""
    found: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        joined = " ".join(paragraph.split())
        found.extend(s for s in _SENTENCE_END.split(joined) if s)
    return found


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def _quote(sentence: str) -> str:
    clipped = sentence if len(sentence) <= _QUOTE_MAX else sentence[: _QUOTE_MAX - 1] + "…"
    return f"“{clipped}”"


def judge_praise(text: str, threshold: float = PRAISE_THRESHOLD) -> Praise:
    """Whether a reply (its new part: `strip_quoted` output) is an unsolicited testimonial.

    Praise needs all of:
    - at most `MAX_CHARS` (5,000) characters;
    - at least `MIN_WORDS` (3) words once a greeting line, "have a great day" and the sign-off
      ("Thanks!", "Best regards, Anna") are set aside: "Thanks so much!" is polite, not praise;
    - no phrase that says a problem is still open ("still waiting", "not working", "refund",
      "nobody answered"), which VADER tends to score as neutral;
    - no sentence, nor part of one cut at "but"/"however"/"although"/"though"/"except",
      scoring `NEGATIVE_SENTENCE` (−0.25) or less: "Great crew but the invoice is wrong" is a
      complaint (so is "I was worried at first but you nailed it": a false no, on purpose);
    - fewer than half of the sentences are questions (else it is a request to answer);
    - the VADER compound score of the whole text ≥ `threshold` (+0.60 by default).
    A few idioms VADER misreads ("couldn't be happier", "you saved us", "above and beyond") are
    scored as their plain meaning. VADER knows English only: other languages score near 0 and
    are stored for the owner.
    """
    if len(text) > MAX_CHARS:
        return Praise(
            False,
            0.0,
            f"Not taken as praise: {len(text):,} characters is a letter for the owner to read, "
            f"not a testimonial (at most {MAX_CHARS:,})",
        )
    content = _content(text)
    sentences = _sentences(content)
    if not sentences:
        reason = "only a greeting, thanks or a sign-off" if text.strip() else "no text of its own"
        return Praise(False, 0.0, f"Not taken as praise: the reply has {reason}")
    compound = _compound(content)

    def no(reason: str) -> Praise:
        return Praise(False, compound, f"Not taken as praise: {reason}")

    problem = _OPEN_PROBLEM.search(content)
    if problem:
        return no(f"it mentions an open problem ({_quote(problem.group(0))})")
    for sentence in sentences:
        parts = {sentence, *(p for p in _CONTRAST.split(sentence) if p.strip())}
        worst = min(_compound(part) for part in parts)
        if worst <= NEGATIVE_SENTENCE:
            return no(f"one sentence is negative ({_signed(worst)}): {_quote(sentence)}")
    questions = sum(1 for s in sentences if s.rstrip("”\"')").endswith("?"))
    if questions * 2 >= len(sentences):
        verb = "is a question" if len(sentences) == 1 else "are questions"
        return no(f"it reads as a request ({questions} of {len(sentences)} sentences {verb})")
    words = len(_WORD.findall(content))
    if words < MIN_WORDS:
        plural = "" if words == 1 else "s"
        return no(
            f"{_quote(' '.join(content.split()))} is too short for a testimonial "
            f"({words} word{plural}; at least {MIN_WORDS} needed)"
        )
    if compound < threshold:
        return no(f"sentiment {_signed(compound)} is below {_signed(threshold)}")
    strongest = max(sentences, key=_compound)
    return Praise(
        True,
        compound,
        f"Taken as praise: sentiment {_signed(compound)} (threshold {_signed(threshold)}); "
        f"strongest sentence: {_quote(strongest)}",
    )
