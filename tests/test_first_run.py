"""A first run is the owner's business: nothing the demo business wrote reaches a customer unless
the owner keeps it on purpose (`example = true` in the shipped files, `business.demo`)."""

from __future__ import annotations

import signal
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from daemon.cli import main
from daemon.config import load_config

from daemon_process import DaemonProcess
from helpers import ENV, REPO, keep_examples, owner_options, write_business

EXAMPLE = (
    "an example from the demo business: replace it with your own or delete it, "
    "or remove example = true to keep it"
)
EDUCATION = Path("templates") / "pages" / "referral_education.toml"


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A business folder just made by `vouch init` with the owner's options."""
    root = tmp_path / "acme"
    assert main(["init", str(root), *owner_options()]) == 0
    return root


def edit(path: Path, change: Callable[[tomlkit.TOMLDocument], None]) -> None:
    document = tomlkit.parse(path.read_text())
    change(document)
    path.write_text(tomlkit.dumps(document))


def at(document: tomlkit.TOMLDocument, *keys: str | int) -> Any:
    """The table at a key path, e.g. at(d, "referrals", "materials", 0)."""
    table: Any = document
    for key in keys:
        table = table[key]
    return table


def mark(document: tomlkit.TOMLDocument, *keys: str | int) -> None:
    """Put the shipped `example = true` back on one table."""
    at(document, *keys)["example"] = True


def unmark(document: tomlkit.TOMLDocument, *keys: str | int) -> None:
    """The owner keeps it on purpose."""
    del at(document, *keys)["example"]


def check(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(root / "config.toml")])
    captured = capsys.readouterr()
    return code, [line.strip() for line in captured.err.splitlines()[1:]]  # after "N problem(s):"


def own_brochure(document: tomlkit.TOMLDocument, root: Path) -> None:
    (root / "materials" / "acme-decks.pdf").write_bytes(b"%PDF-1.4 Acme Decks\n")
    at(document, "referrals", "materials")[0] = {"file": "materials/acme-decks.pdf"}


def own_card(document: tomlkit.TOMLDocument, root: Path) -> None:
    del at(document, "referrals", "materials")[1]


def own_link(document: tomlkit.TOMLDocument, root: Path) -> None:
    at(document, "referrals", "links")[0] = {
        "title": "Our decks",
        "url": "https://acme.example/decks",
    }


def own_incentive(document: tomlkit.TOMLDocument, root: Path) -> None:
    at(document, "referrals")["incentive"] = {
        "text": "A $100 gift card for every friend who hires us."
    }


def own_reward(document: tomlkit.TOMLDocument, root: Path) -> None:
    at(document, "referrals")["reward"] = {
        "kind": "choice",
        "voucher_choices": ["a £50 voucher"],
        "description": "a £50 voucher",
    }


def own_offers(document: tomlkit.TOMLDocument, root: Path) -> None:
    at(document, "referrals")["offers"] = [
        {"id": "card100", "text": "A $100 gift card for every friend who hires us."},
        {"id": "card50", "text": "A $50 gift card for every friend who hires us."},
    ]


def with_offers(document: tomlkit.TOMLDocument) -> None:
    """The commented [[referrals.offers]] of the shipped file, uncommented as they stand."""
    referrals = at(document, "referrals")
    del referrals["incentive"]
    referrals["offers"] = [
        {"id": "voucher50", "text": "A £50 voucher for you.", "example": True},
        {"id": "charity", "text": "£50 to the Harbour Food Bank.", "example": True},
    ]
    referrals["reward"] = {"kind": "generated"}


def own_google(document: tomlkit.TOMLDocument, root: Path) -> None:
    at(document, "reviews", "sites")[0] = {
        "name": "Google",
        "url": "https://g.page/r/acme-decks/review",
    }


def own_houzz(document: tomlkit.TOMLDocument, root: Path) -> None:
    del at(document, "reviews", "sites")[1]


LEFTOVERS = [
    # (the problem's start, how to put the mark back, how the owner replaces it)
    (
        "config.toml: referrals.materials[0] (brochure.pdf)",
        ("referrals", "materials", 0),
        own_brochure,
    ),
    (
        "config.toml: referrals.materials[1] (harbor-lane.vcf)",
        ("referrals", "materials", 1),
        own_card,
    ),
    (
        "config.toml: referrals.links[0] (https://harborlane.example/projects)",
        ("referrals", "links", 0),
        own_link,
    ),
    ("config.toml: referrals.incentive", ("referrals", "incentive"), own_incentive),
    ("config.toml: referrals.reward", ("referrals", "reward"), own_reward),
    (
        "config.toml: reviews.sites[0] (https://g.page/r/harborlane-example/review)",
        ("reviews", "sites", 0),
        own_google,
    ),
    (
        "config.toml: reviews.sites[1] (https://www.houzz.example/pro/harborlane)",
        ("reviews", "sites", 1),
        own_houzz,
    ),
]


@pytest.mark.parametrize("fix", ["replaced", "unmarked"])
@pytest.mark.parametrize(
    ("where", "keys", "replace"),
    LEFTOVERS,
    ids=["brochure", "vcard", "link", "incentive", "reward", "google", "houzz"],
)
def test_check_names_each_demo_leftover_in_the_config_until_the_owner_acts(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
    keys: tuple[str | int, ...],
    replace: Callable[[tomlkit.TOMLDocument, Path], None],
    fix: str,
) -> None:
    keep_examples(folder)  # every other example kept on purpose: this one alone is left
    config = folder / "config.toml"
    edit(config, lambda d: mark(d, *keys))
    assert check(folder, capsys) == (2, [f"{where}: {EXAMPLE}"])
    if fix == "replaced":
        edit(config, lambda d: replace(d, folder))
    else:
        edit(config, lambda d: unmark(d, *keys))
    code, problems = check(folder, capsys)
    assert (code, problems) == (0, [])


@pytest.mark.parametrize("fix", ["replaced", "unmarked"])
def test_check_names_the_demo_offers_until_the_owner_acts(
    folder: Path, capsys: pytest.CaptureFixture[str], fix: str
) -> None:
    keep_examples(folder)
    config = folder / "config.toml"
    edit(config, with_offers)
    assert check(folder, capsys) == (
        2,
        [
            f"config.toml: referrals.offers[0] (voucher50): {EXAMPLE}",
            f"config.toml: referrals.offers[1] (charity): {EXAMPLE}",
        ],
    )
    if fix == "replaced":
        edit(config, lambda d: own_offers(d, folder))
    else:
        edit(config, lambda d: unmark(d, "referrals", "offers", 0))
        edit(config, lambda d: unmark(d, "referrals", "offers", 1))
    assert check(folder, capsys) == (0, [])


@pytest.mark.parametrize("fix", ["replaced", "unmarked"])
def test_check_names_the_demo_education_page_until_the_owner_acts(
    folder: Path, capsys: pytest.CaptureFixture[str], fix: str
) -> None:
    keep_examples(folder)
    page = folder / EDUCATION
    page.write_text((REPO / EDUCATION).read_text())  # as shipped, marked
    assert check(folder, capsys) == (
        2,
        [f"templates/pages/referral_education.toml: example: {EXAMPLE}"],
    )
    if fix == "replaced":
        page.write_text(
            'ideal_client = "Home owners around Chicago who want a deck built right."\n'
            'core_message = "Acme builds decks that last, on a fixed quote."\n'
            'listen_for = ["We want a deck before summer."]\n'
            'after_referral = "We call your friend within a day, and thank you if they hire us."\n'
        )
    else:
        edit(page, lambda d: unmark(d))
    assert check(folder, capsys) == (0, [])


def test_a_fresh_folder_lists_every_example_at_once(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, problems = check(folder, capsys)
    assert code == 2
    assert problems == [f"{where}: {EXAMPLE}" for where, _, _ in LEFTOVERS] + [
        f"templates/pages/referral_education.toml: example: {EXAMPLE}"
    ]


def test_an_owner_who_sends_no_asks_is_not_asked_to_replace_what_asks_carry(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With referrals.yearly_cap = 0 no ask goes, so its materials, links and incentive never
    reach anyone; the review sites still count (the thank-you page links them) and so does the
    education page (partners' codes open it too)."""
    edit(folder / "config.toml", lambda d: at(d, "referrals").__setitem__("yearly_cap", 0))
    assert check(folder, capsys) == (
        2,
        [
            f"config.toml: reviews.sites[0] (https://g.page/r/harborlane-example/review): "
            f"{EXAMPLE}",
            f"config.toml: reviews.sites[1] (https://www.houzz.example/pro/harborlane): {EXAMPLE}",
            f"templates/pages/referral_education.toml: example: {EXAMPLE}",
        ],
    )
    edit(folder / "config.toml", lambda d: at(d, "reviews").__setitem__("sites", []))
    (folder / EDUCATION).unlink()  # no page at all is fine too
    assert check(folder, capsys) == (0, [])


def test_review_sites_the_thank_you_page_does_not_link_are_not_asked_about(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep_examples(folder)
    config = folder / "config.toml"
    edit(config, lambda d: mark(d, "reviews", "sites", 0))
    assert check(folder, capsys)[0] == 2
    edit(config, lambda d: at(d, "thanks").__setitem__("reviews", False))
    assert check(folder, capsys) == (0, [])


def test_the_demo_itself_still_checks_ok(capsys: pytest.CaptureFixture[str]) -> None:
    """`make run` runs the repository's config.toml unchanged: the demo, examples and all."""
    shipped = tomllib.loads((REPO / "config.toml").read_text())
    assert shipped["business"]["demo"] is True
    assert main(["check", "--config", str(REPO / "config.toml")]) == 0
    assert "config.toml: ok (" in capsys.readouterr().out


def test_the_shipped_files_mark_every_piece_of_demo_content() -> None:
    shipped = tomllib.loads((REPO / "config.toml").read_text())
    asks = shipped["referrals"]
    assert asks["incentive"]["example"] is True
    assert asks["reward"]["example"] is True
    assert all(m["example"] is True for m in asks["materials"])
    assert all(link["example"] is True for link in asks["links"])
    assert all(site["example"] is True for site in shipped["reviews"]["sites"])
    assert tomllib.loads((REPO / EDUCATION).read_text())["example"] is True
    text = (REPO / "config.toml").read_text()
    commented_offers = text[
        text.index("# [[referrals.offers]]") : text.index("[referrals.influence]")
    ]
    assert commented_offers.count("# example = true") == commented_offers.count(
        "[[referrals.offers]]"
    )


def test_currency_is_checked_as_iso_4217(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keep_examples(folder)
    config = folder / "config.toml"
    edit(config, lambda d: at(d, "business").__setitem__("currency", "DOLLARS"))
    code, problems = check(folder, capsys)
    assert code == 2
    assert problems == [
        "config.toml: business.currency: must be the ISO 4217 code of the currency you price in, "
        'such as "USD" or "EUR", got "DOLLARS" (not an ISO 4217 currency code in use)'
    ]


def test_dashboard_line_says_where_the_dashboard_is_or_why_it_is_off(folder: Path) -> None:
    from daemon.run.runtime import dashboard_line

    config = folder / "config.toml"
    with_password = load_config(config, {"VOUCH_DASHBOARD_PASSWORD": "p" * 16})
    assert dashboard_line(with_password) == (
        "dashboard: https://vouch.acme.example/admin (its password is in $VOUCH_DASHBOARD_PASSWORD)"
    )
    assert dashboard_line(load_config(config, {})) == (
        "dashboard: off (set VOUCH_DASHBOARD_PASSWORD to a password of at least 16 characters "
        "to open https://vouch.acme.example/admin)"
    )
    edit(config, lambda d: unmark_key(d, "secrets", "dashboard_password_env"))
    assert dashboard_line(load_config(config, {})) == (
        "dashboard: off (name a password variable in secrets.dashboard_password_env)"
    )


def unmark_key(document: tomlkit.TOMLDocument, table: str, key: str) -> None:
    del at(document, table)[key]


def listen_anywhere(document: tomlkit.TOMLDocument) -> None:
    at(document, "server")["port"] = 0


@pytest.mark.slow
def test_run_refuses_the_demo_leftovers_before_it_starts(folder: Path) -> None:
    edit(folder / "config.toml", listen_anywhere)
    daemon = DaemonProcess(folder / "config.toml")
    with pytest.raises(AssertionError, match="never logged"):
        daemon.start()
    assert daemon.wait() == 2
    for where, _, _ in LEFTOVERS:
        assert f"  {where}: {EXAMPLE}" in daemon.lines
    assert f"  templates/pages/referral_education.toml: example: {EXAMPLE}" in daemon.lines


@pytest.mark.slow
def test_run_says_where_the_dashboard_is_and_a_reload_to_a_leftover_is_refused(
    folder: Path,
) -> None:
    keep_examples(folder)
    config = folder / "config.toml"
    edit(config, listen_anywhere)
    daemon = DaemonProcess(config, {"VOUCH_DASHBOARD_PASSWORD": "a-long-enough-password"})
    daemon.start()
    try:
        daemon.wait_for(r"dashboard: https://vouch\.acme\.example/admin ")
        edit(config, lambda d: mark(d, "referrals", "links", 0))  # the demo's link, back
        daemon.signal(signal.SIGHUP)
        daemon.wait_for(r"reload refused, the running config stays in force")
        daemon.wait_for(
            r"referrals\.links\[0\] \(https://harborlane\.example/projects\): an example"
        )
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    finally:
        daemon.kill()
    assert not any("this is the demo business" in line for line in daemon.lines)


@pytest.mark.slow
def test_run_of_the_demo_warns_that_it_is_the_demo(tmp_path: Path) -> None:
    daemon = DaemonProcess(write_business(tmp_path)).start()
    try:
        daemon.wait_for(r"this is the demo business \(business\.demo = true\)")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    finally:
        daemon.kill()
