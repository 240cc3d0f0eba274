"""Survey definitions: one owner-edited file a survey, `surveys/*.toml`.

Validated like config.toml: every problem names the file and key and what would be valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from pydantic import Field, ValidationError, field_validator

from daemon.errors import Problem
from daemon.events import KNOWN_TYPES
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
    reminder_days: float = Field(
        4, ge=0, le=60, description="days before the one reminder to non-responders, 0 for none"
    )
    expiry_days: float = Field(30, gt=0, le=365, description="days the survey stays open, 1-365")
    throttle_days: float = Field(
        90, ge=0, le=3650, description="days without another survey to the same customer"
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
