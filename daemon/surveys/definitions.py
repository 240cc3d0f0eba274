"""Survey definitions: one owner-edited file a survey, `surveys/*.toml`.

Validated like config.toml: every problem names the file and key and what would be valid.
Translations sit in the same file, `[locales.fr]` (question, labels) and
`[locales.fr.follow_up]`; each text a translation leaves out falls back to the next tag
("fr-CA" → "fr") and then to the survey's own text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from pydantic import Field, ValidationError, field_validator

from daemon.errors import Problem
from daemon.intake.events import KNOWN_TYPES
from daemon.mail.locales import canonical, fallbacks
from daemon.settings import Section, read_toml, validation_problems


def _template(value: str) -> str:
    try:
        jinja2.Environment(undefined=jinja2.StrictUndefined).parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template error: {exc.message}") from None
    return value


class FollowUp(Section):
    promoter: str = Field("What did we do best?", min_length=1, description="a question (text)")
    passive: str = Field(
        "What would have made it a 10?", min_length=1, description="a question (text)"
    )
    detractor: str = Field(
        "We are sorry. What went wrong, and what can we do?",
        min_length=1,
        description="a question (text)",
    )


class FollowUpWords(Section):
    promoter: str | None = Field(None, min_length=1, description="a question (text)")
    passive: str | None = Field(None, min_length=1, description="a question (text)")
    detractor: str | None = Field(None, min_length=1, description="a question (text)")


class SurveyWords(Section):
    """One translation, `[locales.TAG]`: any of the texts; those left out fall back."""

    question: str | None = Field(
        None,
        min_length=1,
        description="the question, a Jinja2 string such as '… {{ business.name }} …'",
    )
    low_label: str | None = Field(None, min_length=1, description="the label under 0")
    high_label: str | None = Field(None, min_length=1, description="the label under 10")
    follow_up: FollowUpWords = FollowUpWords()

    @field_validator("question")
    @classmethod
    def _question_parses(cls, value: str | None) -> str | None:
        return None if value is None else _template(value)


@dataclass(frozen=True, slots=True)
class Words:
    """A survey's texts in one language, every fallback resolved."""

    question: str
    low_label: str
    high_label: str
    follow_up: dict[str, str]  # by segment: promoter, passive, detractor


class Survey(Section):
    id: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,63}$", description="a lower-case name (a-z, 0-9, _)"
    )
    trigger: str = Field(description=f"one of the event types: {', '.join(sorted(KNOWN_TYPES))}")
    delay_days: float = Field(3, ge=0, le=365, description="days after the event, 0-365")
    question: str = Field(
        "How likely are you to recommend {{ business.name }} to a friend or colleague?",
        min_length=1,
        description="the question, a Jinja2 string such as '… {{ business.name }} …'",
    )
    low_label: str = Field("Not at all likely", min_length=1, description="the label under 0")
    high_label: str = Field("Extremely likely", min_length=1, description="the label under 10")
    follow_up: FollowUp = FollowUp()
    locales: dict[str, SurveyWords] = Field(
        {}, description="translations by locale tag, such as [locales.fr] or [locales.fr-CA]"
    )
    reminder_days: float = Field(
        4, ge=0, le=60, description="days before the one reminder to non-responders, 0 for none"
    )
    expiry_days: float = Field(30, gt=0, le=365, description="days the survey stays open, 1-365")
    throttle_days: float = Field(
        90, ge=0, le=3650, description="days without another survey to the same customer"
    )
    public: bool = Field(
        False,
        description="true or false: the survey also has a public link (vouch survey link ID) "
        "for an invoice, a text message or the counter",
    )

    @field_validator("trigger")
    @classmethod
    def _known_trigger(cls, value: str) -> str:
        if value not in KNOWN_TYPES:
            raise ValueError("unknown event type")
        return value

    @field_validator("question")
    @classmethod
    def _question_parses(cls, value: str) -> str:
        return _template(value)

    @field_validator("locales")
    @classmethod
    def _locale_tags(cls, value: dict[str, SurveyWords]) -> dict[str, SurveyWords]:
        """Tags spelled one way ("fr_ca" is "fr-CA"), so lookups find them."""
        tags: dict[str, SurveyWords] = {}
        for tag, words in value.items():
            spelled = canonical(tag)  # a ValueError names the bad tag
            if spelled in tags:
                raise ValueError(f"[locales.{tag}] is the same language as another table")
            tags[spelled] = words
        return tags

    def words(self, locale: str | None) -> Words:
        """The texts for a reader of `locale`, each from the most specific translation that
        has it ("fr-CA", then "fr"), else the survey's own."""
        found = [self.locales[tag] for tag in fallbacks(locale) if tag in self.locales]

        def text(name: str, default: str) -> str:
            return next((v for w in found if (v := getattr(w, name)) is not None), default)

        def follow(name: str) -> str:
            own: str = getattr(self.follow_up, name)
            return next((v for w in found if (v := getattr(w.follow_up, name))), own)

        return Words(
            question=text("question", self.question),
            low_label=text("low_label", self.low_label),
            high_label=text("high_label", self.high_label),
            follow_up={name: follow(name) for name in ("promoter", "passive", "detractor")},
        )


def load_surveys(directory: Path, root: Path) -> tuple[dict[str, Survey], list[Problem]]:
    """Every surveys/*.toml, by id (the file name unless the file says otherwise)."""
    surveys: dict[str, Survey] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        label = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        raw, found = read_toml(path, label)
        problems += found
        if raw is None:
            continue
        data: dict[str, Any] = {"id": path.stem, **raw}
        try:
            survey = Survey.model_validate(data)
        except ValidationError as exc:
            problems += validation_problems(exc, Survey, label)
            continue
        if survey.id in surveys:
            problems.append(Problem(label, "id", f"survey id {survey.id!r} is used twice"))
            continue
        surveys[survey.id] = survey
    return surveys, problems
