"""daemon/render.py against the real templates in the repo, parsed back with the stdlib."""

from __future__ import annotations

import email
import email.policy
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.clock import FakeClock
from daemon.config import load_config
from daemon.errors import Problem
from daemon.render import KINDS, Renderer, TemplateError, new_message_id, one_line

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONTEXT = {"recipient": "zoe@example.com", "sent_at": NOW}
MESSAGE_ID = "<abc123@harborlane.example>"
EXPECTED_HEADERS = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version"]


def make_site(root: Path, config_text: str | None = None) -> Path:
    """A copy of the repo's config.toml and templates/email under root; returns the config path."""
    shutil.copytree(REPO / "templates" / "email", root / "templates" / "email")
    path = root / "config.toml"
    path.write_text(config_text or (REPO / "config.toml").read_text(encoding="utf-8"))
    return path


def renderer_for(config_path: Path) -> Renderer:
    return Renderer(load_config(config_path, environ={}), FakeClock(NOW))


def edit(site: Path, name: str, change: Callable[[str], str]) -> None:
    path = site.parent / "templates" / "email" / name
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def line_of(site: Path, name: str, needle: str) -> int:
    text = (site.parent / "templates" / "email" / name).read_text(encoding="utf-8")
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def parse(message: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def send(
    renderer: Renderer,
    context: Mapping[str, object] = CONTEXT,
    *,
    to_name: str | None = "Zoe Example",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    rendered = renderer.render(
        "test",
        context,
        to_email="zoe@example.com",
        to_name=to_name,
        message_id=MESSAGE_ID,
        headers=headers,
    )
    return rendered.message


def assert_no_injection(message: bytes, expected: list[str] = EXPECTED_HEADERS) -> EmailMessage:
    """Exactly the expected headers, both as the stdlib parses them and in the raw bytes."""
    assert message.isascii()
    parsed = parse(message)
    assert parsed.keys() == [*expected, "Content-Type"]
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    fields = [line.split(b":", 1)[0].decode() for line in head if not line.startswith(b" ")]
    assert fields == [*expected, "Content-Type"]
    assert all(len(line) <= (76 if b"=?" in line else 998) for line in head)
    return parsed


def raw_header(message: bytes, field: str) -> str:
    """A header's value as written, unfolded."""
    head = message.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n ", " ")
    return next(line for line in head.split("\r\n") if line.startswith(field + ": "))[
        len(field) + 2 :
    ]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return renderer_for(REPO / "config.toml")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path)


@pytest.fixture(scope="module")
def echo_renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    """The test email, its subject made from the `recipient` variable (subject text from data)."""
    site = make_site(tmp_path_factory.mktemp("echo"))
    edit(
        site,
        "test.txt",
        lambda t: t.replace("Test email from {{ business.name }}", "Hi {{ recipient }}"),
    )
    return renderer_for(site)


def test_message_is_multipart_alternative_text_then_html(renderer: Renderer) -> None:
    message = send(renderer)
    parsed = parse(message)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    text, html = (part.get_content() for part in parsed.iter_parts())
    assert "This is a test email from Vouch for Harbor Lane Renovations" in text
    assert "sent to zoe@example.com on 2 March 2026, 09:00 GMT" in text
    assert "<h1" in html and "Harbor Lane Renovations" in html
    assert b"\n" not in message.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in message.split(b"\r\n")) <= 78


def test_headers(renderer: Renderer) -> None:
    parsed = assert_no_injection(send(renderer))
    assert parsed["From"].addresses[0].display_name == "Harbor Lane Renovations"
    assert parsed["From"].addresses[0].addr_spec == "hello@harborlane.example"
    assert str(parsed["To"]) == "Zoe Example <zoe@example.com>"
    assert parsed["Reply-To"].addresses[0].addr_spec == "team@harborlane.example"
    assert parsed["Subject"] == "Test email from Harbor Lane Renovations"
    assert parsedate_to_datetime(parsed["Date"]) == NOW
    assert parsed["Message-ID"] == MESSAGE_ID
    assert parsed["MIME-Version"] == "1.0"


def test_without_a_name_or_reply_to_the_headers_are_plain(tmp_path: Path) -> None:
    config = (REPO / "config.toml").read_text(encoding="utf-8")
    config = config.replace('reply_to = "team@harborlane.example"', "")
    message = send(renderer_for(make_site(tmp_path, config)), to_name=None)
    parsed = assert_no_injection(message, [h for h in EXPECTED_HEADERS if h != "Reply-To"])
    assert b"\r\nTo: zoe@example.com\r\n" in message
    assert parsed["To"].addresses[0].display_name == ""


def test_css_is_inlined(renderer: Renderer) -> None:
    rendered = renderer.preview("test")
    html = parse(rendered.message).get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert content.replace("\r\n", "\n") == rendered.html + "\n"
    assert 'style="' in content
    assert "<style" not in content
    assert "<script" not in content


def test_subject_is_one_line(site: Path) -> None:
    edit(site, "test.txt", lambda t: t.replace("Test email from", "Test\n   email\r\n\tfrom"))
    rendered = renderer_for(site).preview("test")
    assert rendered.subject == "Test email from Harbor Lane Renovations"
    assert parse(rendered.message)["Subject"] == rendered.subject


def test_a_display_name_cannot_inject_a_header(renderer: Renderer) -> None:
    parsed = assert_no_injection(send(renderer, to_name="Eve\r\nBcc: victim@example.com"))
    assert [a.addr_spec for a in parsed["To"].addresses] == ["zoe@example.com"]
    assert parsed["To"].addresses[0].display_name == "Eve Bcc: victim@example.com"


def test_subject_text_from_data_cannot_inject_a_header(echo_renderer: Renderer) -> None:
    context = {**CONTEXT, "recipient": "x\r\nBcc: victim@example.com\r\n\r\nbody"}
    parsed = assert_no_injection(send(echo_renderer, context))
    assert parsed["Subject"] == "Hi x Bcc: victim@example.com body"


def test_a_business_name_cannot_inject_a_header(tmp_path: Path) -> None:
    config = (REPO / "config.toml").read_text(encoding="utf-8")
    config = config.replace('"Harbor Lane Renovations"', '"Harbor\\r\\nBcc: victim@example.com"')
    parsed = assert_no_injection(send(renderer_for(make_site(tmp_path, config))))
    assert parsed["From"].addresses[0].display_name == "Harbor Bcc: victim@example.com"


def test_non_ascii_names_and_subjects_round_trip(echo_renderer: Renderer) -> None:
    name = "Zoë Ñandú 山田"
    message = send(echo_renderer, {**CONTEXT, "recipient": name}, to_name=name)
    assert b"=?utf-8?b?" in message
    parsed = assert_no_injection(message)
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["Subject"] == f"Hi {name}"
    text = parse(message).get_body(("plain",))
    assert text is not None and name in text.get_content()


tricky = st.sampled_from(' "\\()<>,;:@=?\r\n\t\x00\x85\u2028')
names = st.text(st.one_of(st.characters(codec="utf-8"), tricky), max_size=300)
no_files = settings(database=None)  # nothing written into the repo


@no_files
@given(name=names)
def test_any_display_name_round_trips(renderer: Renderer, name: str) -> None:
    message = send(renderer, to_name=name)
    [address] = assert_no_injection(message)["To"].addresses
    assert address.addr_spec == "zoe@example.com"
    expected = one_line(name)
    value = raw_header(message, "To")
    if "=?" not in value:
        assert address.display_name == expected
    else:
        # RFC 2047 decoding (the legacy decoder) drops the space between encoded-words; the
        # stdlib's address parser wrongly keeps one, so there it matches modulo spaces.
        assert str(make_header(decode_header(value))) == f"{expected} <zoe@example.com>"
        assert address.display_name.replace(" ", "") == expected.replace(" ", "")


def test_a_long_name_splits_at_its_spaces(renderer: Renderer) -> None:
    name = "Zoë Ñandú Ölafsdóttir de la Peña y Tanaka 山田 花子"
    message = send(renderer, to_name=name)
    value = raw_header(message, "To")
    assert value.count("=?utf-8?b?") > 1
    assert str(make_header(decode_header(value))) == f"{name} <zoe@example.com>"
    assert one_line(parse(message)["To"].addresses[0].display_name) == name


@no_files
@given(text=names)
def test_any_subject_text_round_trips(echo_renderer: Renderer, text: str) -> None:
    parsed = assert_no_injection(send(echo_renderer, {**CONTEXT, "recipient": text}))
    assert parsed["Subject"] == one_line(f"Hi {text}")


def test_html_is_escaped_and_text_is_not(renderer: Renderer) -> None:
    rendered = renderer.render(
        "test",
        {**CONTEXT, "recipient": "<script>alert(1)</script>"},
        to_email="zoe@example.com",
        message_id=MESSAGE_ID,
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script>" not in rendered.html
    assert "<script>alert(1)</script>" in rendered.text


def test_extra_headers_are_kept_as_given(renderer: Renderer) -> None:
    url = "<https://vouch.example.com/u/" + "t" * 120 + ">, <mailto:unsubscribe@harborlane.example>"
    headers = {"List-Unsubscribe": url, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    parsed = parse(send(renderer, headers=headers))
    assert parsed["List-Unsubscribe"] == url
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert_no_injection(
        send(renderer, headers=headers),
        [*EXPECTED_HEADERS[:-1], "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version"],
    )


def test_extra_headers_cannot_inject(renderer: Renderer) -> None:
    parsed = parse(send(renderer, headers={"X-Note": "a\r\nBcc: victim@example.com"}))
    assert parsed["X-Note"] == "a Bcc: victim@example.com"
    assert "Bcc" not in parsed
    for name in ("Bcc", "Subject", "X-Bad\r\nBcc", "Bad Name", ""):
        with pytest.raises(ValueError):
            send(renderer, headers={name: "x"})
    with pytest.raises(ValueError):
        send(renderer, headers={"X-Note": "Zoë"})


@pytest.mark.parametrize(
    ("to_email", "message_id"),
    [
        ("zoe@example.com\r\nBcc: victim@example.com", MESSAGE_ID),
        ("zoe@exa mple.com", MESSAGE_ID),
        ("not-an-address", MESSAGE_ID),
        ("zoe@example.com", "<abc@example.com>\r\nBcc: victim@example.com"),
        ("zoe@example.com", "abc@example.com"),
    ],
)
def test_bad_addresses_and_message_ids_are_refused(
    renderer: Renderer, to_email: str, message_id: str
) -> None:
    with pytest.raises(ValueError):
        renderer.render("test", CONTEXT, to_email=to_email, message_id=message_id)


def test_an_international_domain_is_encoded(renderer: Renderer) -> None:
    message = renderer.render(
        "test", CONTEXT, to_email="zoe@bücher.example", message_id=MESSAGE_ID
    ).message
    assert parse(message)["To"].addresses[0].domain == "xn--bcher-kva.example"


def test_render_refuses_unknown_kinds_and_other_variables(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match="unknown email kind"):
        renderer.render("nope", CONTEXT, to_email="zoe@example.com", message_id=MESSAGE_ID)
    with pytest.raises(ValueError, match="recipient"):
        renderer.render("test", {"sent_at": NOW}, to_email="zoe@example.com", message_id=MESSAGE_ID)


def test_new_message_id() -> None:
    first, second = new_message_id("harborlane.example"), new_message_id("harborlane.example")
    assert first != second
    assert first.startswith("<") and first.endswith("@harborlane.example>")
    assert len(first) > 30
    with pytest.raises(ValueError):
        new_message_id("bad domain\r\nBcc: x")


def test_the_repo_templates_pass_the_check(renderer: Renderer) -> None:
    assert renderer.check() == []
    for kind in KINDS:
        assert renderer.preview(kind).subject


def test_an_undefined_variable_is_reported_with_file_and_line(site: Path) -> None:
    edit(site, "test.html", lambda t: t.replace("<h1>", "<h1>{{ customer.name }}"))
    line = line_of(site, "test.html", "customer.name")
    renderer = renderer_for(site)
    [problem] = renderer.check()
    assert (problem.file, problem.where) == ("templates/email/test.html", f"line {line}")
    assert "'customer' is undefined" in problem.message
    assert "'test' email" in problem.message
    assert "recipient" in problem.message  # names the variables that do exist
    with pytest.raises(TemplateError) as caught:
        renderer.preview("test")
    assert caught.value.problems == [problem]


def test_an_undefined_attribute_in_the_subject_is_reported(site: Path) -> None:
    edit(
        site, "test.txt", lambda t: t.replace("{{ business.name }}{%", "{{ business.nickname }}{%")
    )
    [problem] = renderer_for(site).check()
    line = line_of(site, "test.txt", "business.nickname")
    assert (problem.file, problem.where) == ("templates/email/test.txt", f"line {line}")
    assert "nickname" in problem.message


def test_a_syntax_error_is_reported_with_file_and_line(site: Path) -> None:
    edit(site, "test.txt", lambda t: t.replace("{% endblock %}\n", "{% endblok %}\n", 1))
    line = line_of(site, "test.txt", "endblok")
    [problem] = renderer_for(site).check()
    assert (problem.file, problem.where) == ("templates/email/test.txt", f"line {line}")
    assert "syntax error" in problem.message and "endblok" in problem.message


def test_a_broken_base_is_reported_once_in_the_base(site: Path) -> None:
    edit(site, "base.html", lambda t: t.replace("{% block content %}", "{% block content %"))
    line = line_of(site, "base.html", "{% block content %")
    problems = renderer_for(site).check()
    assert [(p.file, p.where) for p in problems] == [("templates/email/base.html", f"line {line}")]


def test_a_missing_base_is_reported_where_it_is_used(site: Path) -> None:
    (site.parent / "templates" / "email" / "base.txt").unlink()
    problems = renderer_for(site).check()
    assert len(problems) == len(KINDS)  # once in each kind's .txt, where the owner must look
    for kind, problem in zip(KINDS, problems, strict=True):
        line = line_of(site, f"{kind}.txt", "{% extends")
        assert (problem.file, problem.where) == (f"templates/email/{kind}.txt", f"line {line}")
        assert '"base.txt"' in problem.message


def test_missing_files_and_subjects_are_all_reported(site: Path) -> None:
    (site.parent / "templates" / "email" / "test.txt").unlink()
    edit(site, "test.html", lambda t: t.replace("<h1>", "<h1>{{ nope }}"))
    problems = renderer_for(site).check()
    assert problems[0] == Problem(
        "templates/email/test.txt", "", "missing: every email kind needs test.html and test.txt"
    )
    assert [(p.file, "nope" in p.message) for p in problems[1:]] == [
        ("templates/email/test.html", True)
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("{% block subject %}", "{% block title %}"), "no subject"),
        (
            lambda t: t.replace("Test email from {{ business.name }}", "  \n "),
            "subject block is empty",
        ),
    ],
)
def test_a_missing_or_empty_subject_is_reported(
    site: Path, change: Callable[[str], str], message: str
) -> None:
    edit(site, "test.txt", change)
    [problem] = renderer_for(site).check()
    assert problem.file == "templates/email/test.txt"
    assert message in problem.message


def test_other_template_exceptions_are_reported_with_their_line(site: Path) -> None:
    edit(site, "test.html", lambda t: t.replace("<h1>", "<h1>{{ 1 // 0 }}"))
    line = line_of(site, "test.html", "1 // 0")
    [problem] = renderer_for(site).check()
    assert problem.where == f"line {line}"
    assert "ZeroDivisionError" in problem.message


def test_unused_template_files_are_fine(site: Path) -> None:
    (site.parent / "templates" / "email" / "notes.txt").write_text("{{ broken", encoding="utf-8")
    assert renderer_for(site).check() == []
