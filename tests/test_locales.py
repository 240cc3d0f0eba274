"""Languages: locale fallbacks, translated email pairs and layouts, survey translations, the
pages in the customer's language, and a French customer's survey end to end over real SMTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from loop import Loop, html_of, path_of, score_links, text_of

from daemon.cli import main
from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.errors import ConfigError
from daemon.mail.locales import canonical, chain, fallbacks, pick, split, suffixed
from daemon.mail.render import KINDS, Renderer

from helpers import ENV, write_business

FR_CUSTOMER_KINDS = [
    "survey",
    "reminder",
    "we_hear_you",
    "referral_ask",
    "advocate_thanks",
    "friend_note",
    "advocate_update",
    "advocate_reward",
]


# the pure rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fr", ["fr"]),
        ("fr-CA", ["fr-CA", "fr"]),
        ("fr_ca", ["fr-CA", "fr"]),
        ("FR-ca", ["fr-CA", "fr"]),
        ("zh-hant-tw", ["zh-Hant-TW", "zh-Hant", "zh"]),
        ("es-419", ["es-419", "es"]),
        (None, []),
        ("", []),
        ("not a tag", []),
    ],
)
def test_fallbacks(tag: str | None, expected: list[str]) -> None:
    assert fallbacks(tag) == expected


def test_chain_pick_and_names() -> None:
    assert chain("fr-CA", "en") == ["fr-CA", "fr", "en"]
    assert chain(None, "en-GB") == ["en-GB", "en"]
    assert chain("en-US", "en") == ["en-US", "en"]  # each once
    assert pick("fr-CA", "en", {"fr"}) == "fr"
    assert pick("de", "en", {"fr"}) is None  # the default
    assert pick(None, "fr", {"fr"}) == "fr"  # no locale: the business's
    assert suffixed("survey.html", "fr-CA") == "survey.fr-CA.html"
    assert split("survey.fr-CA.html") == ("survey.html", "fr-CA")
    assert split("_scale.html") == ("_scale.html", None)
    assert split("owner_referral.txt") == ("owner_referral.txt", None)
    with pytest.raises(ValueError, match='"français" is not a locale tag'):
        canonical("français")


# translated emails ---------------------------------------------------------------------------


@pytest.fixture
def renderer(config: Config, services: Any) -> Renderer:
    rendered: Renderer = services.renderer
    return rendered


def folder(config: Config) -> Path:
    return config.templates_dir


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("fr-CA", "fr"), ("fr", "fr"), ("FR_be", "fr"), ("de", "en"), (None, "en"), ("en-US", "en")],
)
def test_survey_language_falls_back(renderer: Renderer, locale: str | None, expected: str) -> None:
    assert renderer.language("survey", locale) == expected
    subject = renderer.preview("survey", locale).subject
    french = subject == "Une petite question de Harbor Lane Renovations"
    assert french == (expected == "fr"), subject


def test_a_kind_without_a_french_pair_goes_out_in_the_default(renderer: Renderer) -> None:
    for kind in ("owner_alert", "owner_referral", "test"):
        assert renderer.language(kind, "fr-CA") == "en"
    rendered = renderer.preview("test", "fr")
    assert rendered.subject == "Test email from Harbor Lane Renovations"
    assert '<html lang="en">' in rendered.html


def test_american_english_changes_only_what_differs(renderer: Renderer) -> None:
    """referral_ask.en-US.txt extends "default:referral_ask.txt" and changes its subject."""
    american, british = renderer.preview("referral_ask", "en-US"), renderer.preview("referral_ask")
    assert renderer.language("referral_ask", "en-US") == "en-US"
    assert american.subject == "Sam, a small favor?" and british.subject == "Sam, a small favour?"
    assert american.text == british.text
    assert (
        american.html.replace('lang="en-US"', 'lang="en"').replace(
            american.subject, british.subject
        )
        == british.html
    )
    assert renderer.language("survey", "en-US") == "en"  # no variant: the default pair


def test_every_customer_kind_is_translated_in_the_demo(renderer: Renderer) -> None:
    assert renderer.locales() == ["en-US", "fr"]
    for kind in FR_CUSTOMER_KINDS:
        assert renderer.language(kind, "fr") == "fr", kind
        rendered = renderer.preview(kind, "fr")
        assert '<html lang="fr">' in rendered.html
        assert "Se désinscrire" in rendered.text and "Unsubscribe" not in rendered.text
        assert "Bonjour" in rendered.text


def test_a_lone_half_is_not_used_and_check_names_it(make_config: Callable[..., Config]) -> None:
    config = make_config()
    (folder(config) / "we_hear_you.fr.txt").unlink()
    renderer = Renderer(config, _clock())
    assert renderer.language("we_hear_you", "fr") == "en"
    assert renderer.preview("we_hear_you", "fr").subject == "We hear you"
    [problem] = renderer.check()
    assert problem.file == "templates/email/we_hear_you.fr.html"
    assert "has no twin we_hear_you.fr.txt" in problem.message


def test_a_tag_spelled_another_way_is_named(make_config: Callable[..., Config]) -> None:
    config = make_config()
    for suffix in ("txt", "html"):
        (folder(config) / f"survey.fr.{suffix}").rename(folder(config) / f"survey.fr_ca.{suffix}")
    problems = Renderer(config, _clock()).check()
    assert {(p.file, p.message) for p in problems} == {
        (f"templates/email/survey.fr_ca.{s}", 'write the locale as "fr-CA" in the file name')
        for s in ("txt", "html")
    }


def test_layouts_and_includes_follow_the_translation(make_config: Callable[..., Config]) -> None:
    config = make_config()
    email = folder(config)
    base = (email / "base.txt").read_text(encoding="utf-8")
    (email / "base.fr.txt").write_text(base.replace("\n--\n", "\n-- en français --\n"))
    scale = (email / "_scale.html").read_text(encoding="utf-8")
    (email / "_scale.fr.html").write_text(scale.replace("0 = ", "zéro = "))
    renderer = Renderer(config, _clock())
    french = renderer.preview("survey", "fr-CA")
    assert "-- en français --" in french.text and "zéro = Pas du tout probable" in french.html
    english = renderer.preview("survey", None)
    assert "-- en français --" not in english.text and "zéro" not in english.html
    # a kind that falls back to the default pair keeps the default layout: one language
    assert "-- en français --" not in renderer.preview("test", "fr").text
    assert renderer.check() == []


def test_owner_emails_follow_the_business_locale(make_config: Callable[..., Config]) -> None:
    config = make_config({"business": {"locale": "fr"}})
    email = folder(config)
    for suffix in ("txt", "html"):
        text = (email / f"owner_alert.{suffix}").read_text(encoding="utf-8")
        (email / f"owner_alert.fr.{suffix}").write_text(text.replace("Unhappy", "Client mécontent"))
    renderer = Renderer(config, _clock())
    assert renderer.preview("owner_alert").subject.startswith("Client mécontent")
    # and a customer whose language is missing gets the business's, not the unsuffixed file
    assert renderer.language("survey", "de") == "fr"
    assert renderer.language("survey", None) == "fr"


def test_a_broken_french_template_fails_vouch_check_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_business(tmp_path)
    name = tmp_path / "templates" / "email" / "survey.fr.html"
    text = name.read_text(encoding="utf-8").replace("<h1>{{ question }}", "<h1>{{ question }")
    name.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "{{ question }<" in row)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"templates/email/survey.fr.html: line {line}: syntax error" in err
    assert "templates/email/survey.html" not in err  # the English one is fine


def test_preview_takes_a_locale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_business(tmp_path)
    assert main(["preview", "reminder", "--locale", "fr-CA", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(reminder for a reader of fr-CA: written in fr)" in out
    assert "Subject: Un clic pour Harbor Lane Renovations ?" in out
    assert main(["preview", "reminder", "--locale", "pas une langue", "--config", str(path)]) == 2


# survey translations ----------------------------------------------------------------------------


def survey_file(root: Path, extra: str) -> Path:
    write_business(root)
    path = root / "surveys" / "post_purchase.toml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return root / "config.toml"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    return [str(p) for p in caught.value.problems]


def test_survey_words_fall_back_per_text(tmp_path: Path, make_config: Any) -> None:
    survey = make_config().surveys["post_purchase"]
    assert survey.words("fr-CA").question.startswith("Dans quelle mesure recommanderiez-vous")
    assert (
        survey.words("fr").follow_up["promoter"]
        == "Merci beaucoup\u00a0! Qu’avons-nous le mieux réussi\u00a0?"
    )
    assert survey.words("de") == survey.words(None)
    assert survey.words(None).question == survey.question
    path = survey_file(
        tmp_path / "b",
        '\n[locales.fr-CA]\nhigh_label = "Vraiment très probable"\n'
        '[locales.fr-CA.follow_up]\npassive = "Merci! Que manquait-il?"\n',
    )
    canadian = load_config(path, ENV).surveys["post_purchase"].words("fr_CA")
    assert canadian.high_label == "Vraiment très probable"  # its own
    assert canadian.low_label == "Pas du tout probable"  # from fr
    assert canadian.follow_up["passive"] == "Merci! Que manquait-il?"
    assert canadian.follow_up["promoter"].startswith("Merci beaucoup")  # from fr


def test_survey_locale_problems_name_file_and_key(tmp_path: Path) -> None:
    path = survey_file(
        tmp_path,
        '\n[locales.de]\nquestoin = "Wie wahrscheinlich …?"\n'
        '[locales.de.follow_up]\npromotor = "Danke!"\n',
    )
    problems = problems_of(path)
    assert (
        "surveys/post_purchase.toml: locales.de.questoin: unknown key; did you mean 'question'? "
        "(valid keys here: follow_up, high_label, low_label, question)"
    ) in problems
    assert any(
        p.startswith("surveys/post_purchase.toml: locales.de.follow_up.promotor: unknown key")
        for p in problems
    )


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [
        ('\n[locales.french]\nquestion = "Q"\n', "locales", '"french" is not a locale tag'),
        ('\n[locales.de]\nquestion = "{{ business.name"\n', "locales.de.question", "template"),
        ('\n[locales.de]\nlow_label = ""\n', "locales.de.low_label", "the label under 0"),
        ('\n[locales.FR]\nquestion = "Q"\n', "locales", "same language as another table"),
    ],
)
def test_bad_survey_translations_are_named(
    tmp_path: Path, extra: str, where: str, message: str
) -> None:
    problems = problems_of(survey_file(tmp_path, extra))
    assert any(
        p.startswith(f"surveys/post_purchase.toml: {where}: ") and message in p for p in problems
    ), problems


# the pages' words ---------------------------------------------------------------------------


def test_every_page_language_has_the_english_keys(config: Config) -> None:
    words = config.words
    assert words.locales() == ["en", "en-US", "fr"]
    assert words.keys("fr") == words.keys("en")
    assert words.for_reader("fr-CA", "en").locale == "fr"
    assert words.for_reader("de", "en").locale == "en"
    assert words.for_reader(None, "fr").locale == "fr"
    assert words.for_reader("fr", "en")("thanks.answered", score=9) == "Vous avez répondu 9."


# end to end: a French customer ----------------------------------------------------------------


async def test_a_french_customer_gets_the_survey_and_pages_in_french(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await loop.event(
        "purchase.completed",
        "chloe@example.ca",
        "2026-03-02T10:00:00Z",
        name="Chloé Tremblay",
        locale="fr-CA",
        timezone="America/Toronto",
    )
    await loop.travel(timedelta(days=3, hours=12))
    mail = {m["To"].addresses[0].addr_spec: m for m in loop.new_mail()}
    french, english = mail["chloe@example.ca"], mail["ann@example.com"]
    assert english["Subject"] == "Quick question from Harbor Lane Renovations"
    assert french["Subject"] == "Une petite question de Harbor Lane Renovations"
    text, html = text_of(french), html_of(french)
    assert text.startswith("Bonjour Chloé,")
    assert (
        "Dans quelle mesure recommanderiez-vous Harbor Lane Renovations à un ami ou à un "
        "collègue\u00a0?" in text
    )
    assert "(Pas du tout probable = 0, Très probable = 10)" in text
    assert '<html lang="fr">' in html and "Se désinscrire" in html
    links = score_links(french)
    assert sorted(links) == list(range(11))

    # the page the score link opens, in French, with the French follow-up
    page = await loop.client.get(path_of(links[10]))
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text and 'value="10" checked' in page.text
    assert "Merci beaucoup\u00a0! Qu’avons-nous le mieux réussi\u00a0?" in page.text
    assert 'data-detractor="Nous sommes désolés' in page.text
    assert ">Envoyer</button>" in page.text and "Send" not in page.text
    missing = await loop.client.post(path_of(links[10]), data={"via": "form"})
    assert missing.status_code == 400 and "Merci de choisir une note de 0 à 10." in missing.text
    thanks = await loop.client.post(
        path_of(links[10]), data={"score": "10", "comment": "Équipe au top", "via": "form"}
    )
    assert thanks.status_code == 200 and '<html lang="fr">' in thanks.text
    assert "Merci\u00a0!" in thanks.text and "Vous avez répondu 10." in thanks.text
    assert "«\u00a0Équipe au top\u00a0»" in thanks.text

    # the English customer's page stays English
    page = await loop.client.get(path_of(score_links(english)[3]))
    assert '<html lang="en">' in page.text and "We are sorry we let you down" in page.text

    # the unsubscribe page, reached from the French email, in French
    unsubscribe = re.search(r"<(http[^>]+/u/[^>]+)>", french["List-Unsubscribe"])
    assert unsubscribe is not None
    page = await loop.client.get(path_of(unsubscribe.group(1)))
    assert "Se désinscrire\u00a0?" in page.text and "chloe@example.ca" in page.text


async def test_french_reminder_and_detractor_note_but_english_owner_alert(loop: Loop) -> None:
    await loop.event(
        "purchase.completed", "remi@example.fr", "2026-03-02T10:00:00Z", name="Rémi", locale="fr"
    )
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = loop.new_mail()
    await loop.travel(timedelta(days=5), step=timedelta(hours=6))
    (reminder,) = loop.new_mail()
    assert reminder["Subject"] == "Un clic pour Harbor Lane Renovations ?"
    assert "c’est notre seul rappel" in text_of(reminder)
    await loop.client.post(
        path_of(score_links(survey)[2]), data={"score": "2", "comment": "Déçu", "via": "form"}
    )
    await loop.run()
    mail = {m["To"].addresses[0].addr_spec: m for m in loop.new_mail()}
    assert mail["owner@harborlane.example"]["Subject"] == "Unhappy customer: Rémi answered 2"
    assert mail["remi@example.fr"]["Subject"] == "Merci pour votre franchise"


async def test_a_customer_in_an_unknown_language_gets_the_default(loop: Loop) -> None:
    await loop.event(
        "purchase.completed", "jonas@example.de", "2026-03-02T10:00:00Z", name="Jonas", locale="de"
    )
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = loop.new_mail()
    assert survey["Subject"] == "Quick question from Harbor Lane Renovations"
    page = await loop.client.get(path_of(score_links(survey)[9]))
    assert '<html lang="en">' in page.text and "Wonderful! What did we do best?" in page.text


def _clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def test_every_kind_renders_in_every_language_present(renderer: Renderer) -> None:
    for locale in [None, *renderer.locales()]:
        for kind in KINDS:
            assert renderer.preview(kind, locale).message


async def test_the_referral_pages_speak_the_advocates_language(loop: Loop) -> None:
    await loop.event(
        "purchase.completed", "lea@example.fr", "2026-03-02T10:00:00Z", name="", locale="fr"
    )
    customer = await loop.services.store.customer_by_email("lea@example.fr")
    assert customer is not None
    code = (await loop.services.store.ensure_advocate(customer.id, loop.clock.now())).code
    landing = await loop.client.get(f"/r/{code}")
    assert '<html lang="fr">' in landing.text
    assert "Un ami pense que Harbor Lane Renovations pourrait vous plaire" in landing.text
    form = await loop.client.get(f"/r/{code}/introduce")
    assert "Présenter un proche à Harbor Lane Renovations" in form.text
    assert "Envoyer la recommandation" in form.text
    bad = await loop.client.post(f"/r/{code}/introduce", data={"friend_name": ""})
    assert bad.status_code == 400
    assert "Merci de vérifier les champs signalés ci-dessous." in bad.text
    done = await loop.client.post(
        f"/r/{code}/introduce", data={"friend_name": "Marc", "friend_email": "marc@example.fr"}
    )
    assert "Nous avons bien les coordonnées de Marc." in done.text
