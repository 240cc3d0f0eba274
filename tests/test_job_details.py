"""The event's details in the survey (issue 14 item 6): a survey's question and its templates
see what the event said of the job (`job.title`, `job.product`, `job.amount` in the business's
currency), so a survey can ask "How did your deck build go?"; an event that said nothing reads
naturally too; a question that misuses them stops `vouch check`; an imported project's job
title reaches its survey. Real app, store, templates and SMTP server, on the fake clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from loop import AUTH, Loop, path_of, score_links, smtp_changes, text_of
from test_referrals import score

from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.errors import ConfigError
from daemon.owner.importer import CsvFile, LineError, Options, import_file
from daemon.run.checked import load_checked
from daemon.store.rows import Job

from helpers import ENV, write_business
from smtp_server import SmtpServer

QUESTION = (
    'question = "How did your {{ job.title or \\"project\\" }} go'
    '{% if job.amount %} ({{ job.amount }}){% endif %}? Would you recommend us?"'
)


def with_question(root: Path, question: str, changes: dict[str, object] | None = None) -> Path:
    path = write_business(
        root, {"business": {"currency": "USD", "locale": "en-US"}, **(changes or {})}
    )
    survey = root / "surveys" / "project_completion.toml"
    text = survey.read_text(encoding="utf-8")
    lines = [question if line.startswith("question = ") else line for line in text.splitlines()]
    survey.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def loop_config(tmp_path: Path, loop_smtp: SmtpServer) -> Config:
    return load_config(with_question(tmp_path / "biz", QUESTION, smtp_changes(loop_smtp)), ENV)


def question_of(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("How did your"))


async def test_the_question_names_the_job_and_reads_well_without_one(loop: Loop) -> None:
    when = "2026-03-02T10:00:00Z"
    deck = {"title": "Deck  build", "amount": "12500", "product": "Cedar"}
    for who, data in (("ann@example.com", deck), ("bob@example.com", {"amount": "NaN"})):
        event = {
            "id": f"job-{who}",
            "type": "project.completed",
            "occurred_at": when,
            "customer": {"email": who},
            "data": data,
        }
        answer = await loop.client.post("/v1/events", json=event, headers=AUTH)
        assert answer.status_code == 202, answer.text
    await loop.travel(timedelta(days=8))
    mail = {m["To"].addresses[0].addr_spec: m for m in loop.new_mail()}
    ann, bob = text_of(mail["ann@example.com"]), text_of(mail["bob@example.com"])
    assert question_of(ann) == "How did your Deck build go ($12,500.00)? Would you recommend us?"
    assert question_of(bob) == "How did your project go? Would you recommend us?"
    # the page the score link opens asks the same question
    page = await loop.client.get(path_of(score_links(mail["ann@example.com"])[9]))
    assert "How did your Deck build go ($12,500.00)?" in page.text


def test_a_question_that_misuses_the_job_stops_check(tmp_path: Path) -> None:
    path = with_question(tmp_path, 'question = "How was it, {{ job.amount + 1 }}?"')
    config = load_config(path, ENV, need_secrets=True)
    with pytest.raises(ConfigError) as caught:
        load_checked(path, ENV, FakeClock())
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("surveys/project_completion.toml: question: ") for p in problems)
    assert config.surveys  # the file itself was valid TOML: only the question was wrong


def test_job_details_are_read_safely() -> None:
    assert Job.of("  A\nlong  title ", None, "1,250") == Job("A long title", None, None)
    assert Job.of(3, "x" * 500, 99.5) == Job("3", "x" * 120, 99.5)
    assert Job.of(None, "", "inf") == Job(None, None, None)


async def test_an_imported_projects_job_title_and_amount_reach_its_survey(
    loop: Loop, tmp_path: Path
) -> None:
    csv = tmp_path / "projects.csv"
    csv.write_text(
        "email,name,project id,job title,amount,completed at\n"
        "cara@example.com,Cara Lee,P-7,Kitchen refit,8400,2026-03-02T09:00:00Z\n",
        encoding="utf-8",
    )
    errors: list[LineError] = []
    with CsvFile(csv, "projects") as source:
        services = loop.services
        tally = await import_file(
            source, Options("projects"), services.config, loop.clock.now(), services, errors.append
        )
    assert errors == [] and tally.good == 1
    await loop.travel(timedelta(days=8))
    survey, reminder = loop.new_mail()  # the survey, and four days later its one reminder
    asked = "How did your Kitchen refit go ($8,400.00)? Would you recommend us?"
    assert question_of(text_of(survey)) == question_of(text_of(reminder)) == asked


async def test_a_referral_ask_names_the_projects_job_and_reads_well_without_one(
    loop: Loop,
) -> None:
    """The ask after a completed project thanks the promoter for that job, from its event;
    a project whose event said nothing of the job gets the ask without that sentence."""
    deck = {"title": "Deck build", "amount": "12500"}
    for who, data in (("ann@example.com", deck), ("bob@example.com", {})):
        await score(loop, who, 10)  # a promoter already: the project's moment asks at once
        event = {
            "id": f"ask-job-{who}",
            "type": "project.completed",
            "occurred_at": "2026-03-02T09:00:00Z",
            "customer": {"email": who, "name": who.split("@")[0].title()},
            "data": data,
        }
        assert (await loop.client.post("/v1/events", json=event, headers=AUTH)).status_code == 202
    asks: dict[str, str] = {}
    for _ in range(72):
        await loop.travel(timedelta(hours=1))
        for message in loop.new_mail():
            if "a small favor" in str(message["Subject"]):
                asks[message["To"].addresses[0].addr_spec] = text_of(message)
        if len(asks) == 2:
            break
    ann, bob = asks["ann@example.com"], asks["bob@example.com"]
    assert "Thank you for trusting us with your project. It was a pleasure" in ann
    assert "for years to come.\nThanks again for choosing us for your deck build.\n\n" in ann
    assert "Thanks again" not in bob and "None" not in bob
    assert "for years to come.\n\nMost of our new clients" in bob  # one blank line, as before


def test_an_ask_template_that_needs_a_job_stops_check(tmp_path: Path) -> None:
    """The ask's templates are checked with the sample job and with none: one that reads
    well only when the event named the job is found before an ask goes out without it."""
    path = write_business(tmp_path)
    txt = tmp_path / "templates" / "email" / "referral_ask.txt"
    text = txt.read_text(encoding="utf-8")
    txt.write_text(text.replace("{% if job.title %}", "{% if job %}", 1), encoding="utf-8")
    txt.write_text(
        txt.read_text(encoding="utf-8").replace(
            "{{ job.title | lower }}", "{{ job.title.lower() }}"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_checked(path, ENV, FakeClock())
    assert any(str(p).startswith("templates/email/referral_ask.txt") for p in caught.value.problems)
