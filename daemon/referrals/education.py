"""The referral education page's text: an owner-edited file beside the email templates.

It teaches advocates how to refer: who the business helps best, the core message, what to
listen for, and what happens after a referral. Validated like the config, naming file and key.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from daemon.errors import Problem
from daemon.settings import Section, read_toml, validation_problems

FILE = Path("templates") / "pages" / "referral_education.toml"


class Education(Section):
    ideal_client: str = Field(
        min_length=1, max_length=600, description="who the business helps best, a sentence or two"
    )
    core_message: str = Field(
        min_length=1, max_length=300, description="the core message in one sentence"
    )
    listen_for: list[str] = Field(
        min_length=1, max_length=12, description='a list of phrases, e.g. ["…", "…"]'
    )
    after_referral: str = Field(
        min_length=1, max_length=600, description="what happens after a referral (the promise)"
    )
    example: bool = Field(
        False, description="true or false: the demo business's page, to rewrite for yours"
    )


def load_education(root: Path) -> tuple[Education | None, list[Problem]]:
    """The file under `root`; a missing file is fine (no page), a broken one is a problem."""
    path = root / FILE
    if not path.exists():
        return None, []
    label = FILE.as_posix()
    raw, problems = read_toml(path, label)
    if raw is None:
        return None, problems
    try:
        return Education.model_validate(raw), []
    except ValidationError as exc:
        return None, validation_problems(exc, Education, label)
