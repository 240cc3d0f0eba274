"""The owner's files, checked together, and swapped in while the daemon runs.

`load_checked` is `vouch check`: the config, the surveys, the email templates and the pages'
words read and rendered with their samples, every problem listed. `swap` puts a checked config
and its renderer in force: SIGHUP (Daemon.reload) and an edit saved from the dashboard
(web/admin_edit.py) both go through it, so the two never differ in what they change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from daemon.clock import Clock
from daemon.config import Config, example_problems, load_config
from daemon.errors import ConfigError, Problem
from daemon.intake.inbound_smtp import smtp_protocol
from daemon.mail.render import Renderer
from daemon.run.services import Services, store_name
from daemon.store.rows import Job

log = logging.getLogger("vouch")

#: what an event may say of the job, for checking an owner's question that uses it
SAMPLE_JOB = Job(title="Deck build", product="Cedar decking", amount=12500.0)


def load_checked(path: Path, environ: Mapping[str, str], clock: Clock) -> tuple[Config, Renderer]:
    """Config and templates, validated together; ConfigError lists every problem."""
    config = load_config(path, environ, need_secrets=True)
    renderer = Renderer(config, clock)
    problems = example_problems(config) + renderer.check()
    for name, survey in config.surveys.items():
        questions = {"question": survey.question} | {
            f"locales.{tag}.question": words.question
            for tag, words in survey.locales.items()
            if words.question is not None
        }
        for key, question in questions.items():
            try:  # as an event with no job details, and as one with all of them
                renderer.survey_question(question)
                renderer.survey_question(question, SAMPLE_JOB)
            except Exception as exc:  # an owner's Jinja2: anything can go wrong, name it
                problems.append(
                    Problem(f"surveys/{name}.toml", key, f"{type(exc).__name__}: {exc}")
                )
    if config.settings.inbound.smtp:
        try:
            smtp_protocol()
        except ImportError as exc:
            problems.append(
                Problem(
                    config.path.name,
                    "inbound.smtp",
                    f"the SMTP listener needs the inbound extra ({exc}): "
                    "pip install 'vouch[inbound]', or set smtp = false",
                )
            )
    if problems:
        raise ConfigError(problems)
    return config, renderer


def swap(services: Services, config: Config, renderer: Renderer) -> None:
    """A checked config and its templates in force from the next request, survey or email;
    what only a restart changes (the listening address, the store) is said so."""
    old = services.config
    fixed = {
        "server": old.settings.server != config.settings.server,
        "store": store_name(old) != store_name(config),
    }
    for key, changed in fixed.items():
        if changed:
            log.warning("%s changed: takes effect at the next restart", key)
    services.config, services.renderer = config, renderer
