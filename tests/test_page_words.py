"""The public pages' words as owner files (templates/pages/words.TAG.toml): the shipped ones
are valid, an owner's edit shows on the pages after a reload, an owner's older file falls back
to the shipped words key by key, American English beside British, and every mistake an owner
can make in the file is named by `vouch check` with file and key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loop import Loop, path_of, score_links

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.errors import ConfigError
from daemon.run.checked import load_checked
from daemon.shipped import shipped
from daemon.words import load_words

from helpers import ENV, REPO, write_business

PAGES = Path("templates") / "pages"


def words_file(root: Path, tag: str, text: str) -> Path:
    path = root / PAGES / f"words.{tag}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_words_pass_the_owner_checks() -> None:
    words, problems = load_words(REPO, shipped())
    assert problems == []
    assert words.locales() == ["en", "en-US", "fr"]
    assert words.keys("fr") == words.keys("en")
    assert words.keys("en-US") <= words.keys("en")


def test_american_english_beside_british() -> None:
    words, _ = load_words(REPO, shipped())
    british = words.for_reader("en-GB", "en")
    american = words.for_reader("en-US", "en")
    assert british.locale == "en" and american.locale == "en-US"
    assert british("introduce.relationship_example") == "e.g. neighbour, colleague"
    assert american("introduce.relationship_example") == "e.g. neighbor, coworker"
    assert american("survey.send") == british("survey.send") == "Send"  # the rest is shared


def test_an_owners_words_come_first_and_an_older_file_falls_back(tmp_path: Path) -> None:
    write_business(tmp_path)
    words_file(tmp_path, "en", '[thanks]\nanswered = "Your score: {score}. Thanks!"\n')
    words_file(tmp_path, "fr", '[survey]\nsend = "Valider"\n')
    words, problems = load_words(tmp_path, shipped())
    assert problems == []
    english, french = words.for_reader(None, "en"), words.for_reader("fr-CA", "en")
    assert english("thanks.answered", score=9) == "Your score: 9. Thanks!"
    assert english("survey.send") == "Send"  # not in the owner's file: the shipped word
    assert french("survey.send") == "Valider"
    # a key the owner's French file lacks is the shipped French, not the owner's English
    assert french("thanks.answered", score=9) == "Vous avez répondu 9."


@pytest.mark.parametrize(
    ("name", "text", "where", "message"),
    [
        ("words.en.toml", '[thanks]\nanswerd = "x"\n', "thanks.answerd", 'mean "thanks.answered"'),
        ("words.en.toml", "[survey]\nsend = 3\n", "survey.send", "must be some text"),
        ("words.en.toml", '[survey]\nsend = "  "\n', "survey.send", "must be some text"),
        ("words.en.toml", '[thanks]\nanswered = "You {score"\n', "thanks.answered", "{{ or }}"),
        (
            "words.fr.toml",
            '[thanks]\nanswered = "{name}, merci"\n',
            "thanks.answered",
            "{name} is not filled in on this page (it fills: {score})",
        ),
        (
            "words.en.toml",
            '[survey]\nsend = "{score.__class__}"\n',
            "survey.send",
            "{score} is not filled in on this page (it fills: none)",
        ),
        ("words.en.toml", f'[survey]\nsend = "{"x" * 2001}"\n', "survey.send", "at most 2000"),
        ("words.english.toml", '[survey]\nsend = "Go"\n', "", "with a locale tag"),
        ("words.en.toml", "[survey\nsend = 1\n", "line 1", "not valid TOML"),
    ],
)
def test_each_mistake_is_named_with_file_and_key(
    tmp_path: Path, name: str, text: str, where: str, message: str
) -> None:
    write_business(tmp_path)
    (tmp_path / PAGES / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.toml", ENV)
    found = [str(p) for p in caught.value.problems]
    assert any(
        p.startswith(f"{(PAGES / name).as_posix()}: {where}") and message in p for p in found
    ), found


def test_vouch_check_stops_on_a_broken_words_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_business(tmp_path)
    words_file(tmp_path, "en", '[survey]\nsnd = "Go"\n')
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert (
        "templates/pages/words.en.toml: survey.snd: no page uses this key; "
        'did you mean "survey.send"?' in err
    )


def test_a_missing_words_folder_serves_the_shipped_words(tmp_path: Path) -> None:
    write_business(tmp_path)
    shutil.rmtree(tmp_path / PAGES)
    config = load_config(tmp_path / "config.toml", ENV)
    assert config.words.for_reader(None, "en")("survey.send") == "Send"


async def test_an_edit_shows_on_the_page_after_a_reload(
    loop: Loop, make_config: Callable[..., Any]
) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await loop.travel(timedelta(days=3, hours=12))
    (mail,) = loop.new_mail()
    link = path_of(score_links(mail)[9])
    page = await loop.client.get(link)
    assert ">Send</button>" in page.text

    config: Config = loop.services.config
    words_file(config.root, "en", '[survey]\nsend = "Send my answer"\n')
    assert ">Send</button>" in (await loop.client.get(link)).text  # not before a reload
    loop.services.config, loop.services.renderer = load_checked(config.path, ENV, loop.clock)
    page = await loop.client.get(link)
    assert ">Send my answer</button>" in page.text
    thanks = await loop.client.post(link, data={"score": "9", "via": "form"})
    assert "You answered 9." in thanks.text  # the words the owner did not change
