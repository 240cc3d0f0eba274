"""Each mistake in config.toml yields a message naming the file, the key and what is valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daemon.config import load_config
from daemon.errors import ConfigError

from helpers import ENV, REPO, write_business


def problems(tmp_path: Path, changes: dict[str, Any], environ: dict[str, str] = ENV) -> list[str]:
    path = write_business(tmp_path, changes)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ, need_secrets=True)
    return [str(p) for p in caught.value.problems]


def test_the_repo_config_is_valid() -> None:
    config = load_config(REPO / "config.toml", ENV, need_secrets=True)
    assert config.settings.business.name
    assert config.settings.email.transport == "maildir"
    assert config.store_path == REPO / "var" / "vouch.sqlite3"


def test_wrong_type_names_key_and_valid_range(tmp_path: Path) -> None:
    found = problems(
        tmp_path, {"email": {"transport": "smtp", "smtp": {"host": "x", "port": "abc"}}}
    )
    assert found == ['config.toml: email.smtp.port: must be an integer 1-65535, got "abc"']


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "business": {"email": "not-an-address", "timezone": "Mars/Olympus"},
            "server": {"port": 70000},
            "sender": {"max_attempts": 0, "planner_lease_seconds": 1},
        },
    )
    assert len(found) == 5
    assert "config.toml: sender.planner_lease_seconds: must be seconds 5-600" in " ".join(found)
    assert any(
        p.startswith("config.toml: business.email: must be") and '"not-an-address"' in p
        for p in found
    )
    assert any("business.timezone" in p and "IANA time zone" in p for p in found)
    assert (
        "config.toml: server.port: must be an integer 0-65535 (0: any free port), got 70000"
        in found
    )
    assert any(
        p.startswith("config.toml: sender.max_attempts: must be an integer 1-100") for p in found
    )


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    found = problems(tmp_path, {"server": {"prot": 8080}})
    assert found == [
        "config.toml: server.prot: unknown key; did you mean 'port'? "
        "(valid keys here: host, max_body_bytes, port, public_burst, public_rate_per_minute, "
        "trusted_proxies)"
    ]


def test_missing_required_key(tmp_path: Path) -> None:
    path = write_business(tmp_path)
    text = path.read_text().replace('owner_email = "owner@harborlane.example"\n', "")
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    assert [str(p) for p in caught.value.problems] == [
        "config.toml: business.owner_email: required: the owner's address for alerts and digests"
    ]


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_business(tmp_path)
    path.write_text(path.read_text() + "\n[broken\nkey = 1\n")
    lines = path.read_text().count("\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    (problem,) = caught.value.problems
    assert problem.where == f"line {lines - 1}"
    assert "not valid TOML" in problem.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml: file not found"):
        load_config(tmp_path / "nowhere.toml", ENV)


def test_smtp_transport_needs_its_table(tmp_path: Path) -> None:
    found = problems(tmp_path, {"email": {"transport": "smtp"}})
    assert found == ['config.toml: email: transport is "smtp" but there is no [email.smtp] table']


def test_smtp_login_needs_both_halves(tmp_path: Path) -> None:
    found = problems(
        tmp_path, {"email": {"transport": "smtp", "smtp": {"host": "mx", "username": "me"}}}
    )
    assert found == [
        "config.toml: email.smtp: username and password_env go together: set both or neither"
    ]


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "email": {
                "transport": "smtp",
                "smtp": {"host": "mx", "username": "me", "password_env": "SMTP_PW"},
            }
        },
        environ={},
    )
    assert found == [
        "config.toml: secrets.api_token_env: environment variable VOUCH_API_TOKEN is not set",
        "config.toml: secrets.signing_key_env: environment variable VOUCH_SECRET_KEY is not set",
        "config.toml: email.smtp.password_env: environment variable SMTP_PW is not set",
    ]


def test_short_token_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, {}, environ={**ENV, "VOUCH_API_TOKEN": "changeme"})
    assert found == [
        "config.toml: secrets.api_token_env: environment variable VOUCH_API_TOKEN must hold "
        "at least 16 characters"
    ]


def test_secret_values_are_resolved_not_written(tmp_path: Path) -> None:
    path = write_business(
        tmp_path,
        {
            "email": {
                "transport": "smtp",
                "smtp": {"host": "mx", "username": "me", "password_env": "SMTP_PW"},
            }
        },
    )
    config = load_config(path, {**ENV, "SMTP_PW": "s3cret"}, need_secrets=True)
    assert config.secrets.smtp_password == "s3cret"
    assert config.secrets.api_token == ENV["VOUCH_API_TOKEN"]
    assert "s3cret" not in path.read_text()


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write_business(tmp_path / "shop"), ENV)
    assert config.store_path == tmp_path / "shop" / "var" / "vouch.sqlite3"
    assert config.message_id_domain == "harborlane.example"


def test_the_repo_surveys_load(tmp_path: Path) -> None:
    config = load_config(write_business(tmp_path), ENV)
    assert set(config.surveys) == {"post_purchase", "project_completion"}
    assert config.surveys["post_purchase"].trigger == "purchase.completed"
    assert config.surveys["post_purchase"].delay_days == 3
    assert config.surveys["project_completion"].delay_days == 1


def test_survey_problems_name_the_survey_file(tmp_path: Path) -> None:
    path = write_business(tmp_path)
    (tmp_path / "surveys" / "winter.toml").write_text(
        'trigger = "purchase.done"\ndelay_days = -1\nquestion = "How likely {{ business.name "\n'
        "[follow_up]\npromotor = 'x'\n"
    )
    (tmp_path / "surveys" / "broken.toml").write_text('trigger = "purchase.completed\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    found = [str(p) for p in caught.value.problems]
    assert found[0].startswith("surveys/broken.toml: line 1: not valid TOML")
    assert found[1].startswith(
        "surveys/winter.toml: trigger: must be one of the event types: complaint.resolved, "
    )
    assert found[1].endswith('got "purchase.done" (unknown event type)')
    assert (
        found[2] == "surveys/winter.toml: delay_days: must be days after the event, 0-365, got -1"
    )
    assert found[3].startswith("surveys/winter.toml: question: must be the question, a Jinja2")
    assert "template error" in found[3]
    assert found[4].startswith("surveys/winter.toml: follow_up.promotor: unknown key; did you mean")
    assert len(found) == 5
