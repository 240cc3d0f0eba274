"""daemon/mail/render.py against the real templates in the repo, parsed back with the stdlib."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html import unescape
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.clock import FakeClock
from daemon.config import load_config
from daemon.errors import Problem
from daemon.mail.render import (
    KINDS,
    Attachment,
    Renderer,
    TemplateError,
    attachment_filename,
    new_message_id,
    one_line,
)

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONTEXT = {"recipient": "zoe@example.com", "sent_at": NOW}
MESSAGE_ID = "<abc123@harborlane.example>"
EXPECTED_HEADERS = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version"]


def make_site(root: Path, config_text: str | None = None) -> Path:
    """A copy of the repo's config.toml, templates/email and materials; returns the config path."""
    shutil.copytree(REPO / "templates" / "email", root / "templates" / "email")
    shutil.copytree(REPO / "materials", root / "materials")
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
    # what stays in <style> is only what cannot be copied onto elements: the @media rules for
    # narrow screens (mail apps that drop them still get the inlined layout)
    kept = re.findall(r"<style>(.*?)</style>", content, flags=re.S)
    assert all(block.strip().startswith("@media") for block in kept), kept
    assert ".card {" not in "".join(kept)
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
    folder = site.parent / "templates" / "email"
    # once in each kind's .txt and in each of its translations, where the owner must look
    files = [
        name
        for kind in KINDS
        for name in (f"{kind}.txt", f"{kind}.fr.txt")
        if (folder / name).exists()
    ]
    assert len(files) > len(KINDS)  # the demo's French ones too
    for name, problem in zip(files, problems, strict=True):
        line = line_of(site, name, "{% extends")
        assert (problem.file, problem.where) == (f"templates/email/{name}", f"line {line}")
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


# --- attachments -------------------------------------------------------------------------------

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Harbor Lane Renovations\r\nEND:VCARD\r\n"
PART_HEADERS = ["Content-Type", "Content-Disposition", "Content-Transfer-Encoding"]


def send_attached(renderer: Renderer, *attachments: Attachment) -> bytes:
    return renderer.render(
        "test",
        CONTEXT,
        to_email="zoe@example.com",
        to_name="Zoe Example",
        message_id=MESSAGE_ID,
        attachments=attachments,
    ).message


def attachment_parts(message: bytes) -> list[EmailMessage]:
    """The attachments of a message, each checked to carry exactly the three part headers."""
    parsed = assert_no_injection(message)
    assert parsed.get_content_type() == "multipart/mixed"
    first, *parts = parsed.iter_parts()
    assert isinstance(first, EmailMessage)
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]
    for part in parts:
        assert isinstance(part, EmailMessage)
        assert part.keys() == PART_HEADERS
        assert part.get_content_disposition() == "attachment"
        assert part["Content-Transfer-Encoding"] == "base64"
        assert not part.defects and not part["Content-Disposition"].defects
    assert not parsed.defects
    return [part for part in parts if isinstance(part, EmailMessage)]


def assert_wire_format(message: bytes) -> None:
    assert message.isascii()
    assert b"\n" not in message.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in message.split(b"\r\n")) <= 78


def test_attachments_follow_the_text_and_html_in_multipart_mixed(renderer: Renderer) -> None:
    message = send_attached(
        renderer,
        Attachment("Harbor Lane brochure.pdf", "application/pdf", PDF),
        Attachment("Harbor Lane.vcf", "text/vcard", VCARD),
    )
    assert_wire_format(message)
    pdf, vcard = attachment_parts(message)
    assert (pdf.get_content_type(), pdf.get_filename()) == (
        "application/pdf",
        "Harbor Lane brochure.pdf",
    )
    assert pdf.get_content() == PDF  # byte-exact
    assert pdf.get_param("name") == "Harbor Lane brochure.pdf"
    assert (vcard.get_content_type(), vcard.get_filename()) == ("text/vcard", "Harbor Lane.vcf")
    assert vcard.get_payload(decode=True) == VCARD  # CRLF kept: base64, not text
    text = parse(message).get_body(("plain",))
    assert text is not None and "Harbor Lane Renovations" in text.get_content()
    body = message.split(b"Content-Transfer-Encoding: base64\r\n\r\n")[1].split(b"\r\n--")[0]
    *full, last = body.split(b"\r\n")
    assert {len(line) for line in full} == {76} and 0 < len(last) <= 76


def test_without_attachments_the_message_is_unchanged(
    renderer: Renderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("daemon.mail.render.secrets.token_hex", lambda n: "ab" * n)
    plain = send(renderer)
    assert send_attached(renderer) == plain
    assert b"multipart/mixed" not in plain
    boundary = "=_" + "ab" * 12
    assert plain.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n--'.encode() in plain


def test_a_non_ascii_filename_round_trips_with_an_ascii_fallback(renderer: Renderer) -> None:
    message = send_attached(renderer, Attachment("Broschüre 2026.pdf", "application/pdf", PDF))
    assert_wire_format(message)
    [part] = attachment_parts(message)
    assert part.get_filename() == "Broschüre 2026.pdf"
    assert part.get_content() == PDF
    assert b"filename*=utf-8''Brosch%C3%BCre%202026.pdf" in message
    assert part.get_param("name") == "Broschure 2026.pdf"  # for mail apps without RFC 2231


def test_a_filename_cannot_inject_a_header(renderer: Renderer) -> None:
    message = send_attached(renderer, Attachment("a.pdf\r\nBcc: x@y", "application/pdf", PDF))
    [part] = attachment_parts(message)  # the top headers and the part's headers, exactly
    assert part.get_filename() == "a.pdf Bcc: x@y"
    assert b"\r\nBcc" not in message
    tricky = 'a"; filename="evil.exe\\'
    [part] = attachment_parts(send_attached(renderer, Attachment(tricky, "text/plain", b"x")))
    assert part.get_filename() == "a'; filename='evil.exe_"


def test_an_encoded_word_in_a_filename_stays_text(renderer: Renderer) -> None:
    name = "=?utf-8?b?ZXZpbC5leGU=?="  # "evil.exe", if a mail app decoded it
    [part] = attachment_parts(send_attached(renderer, Attachment(name, "text/plain", b"x")))
    assert part.get_filename() == name
    assert part.get_param("name") == "=_utf-8_b_ZXZpbC5leGU=_="


def test_long_filenames_are_split_and_shortened(renderer: Renderer) -> None:
    for name in ("Ü" * 300 + ".pdf", "brochure " * 40 + ".pdf", "山田" * 30 + ".vcf"):
        message = send_attached(renderer, Attachment(name, "application/pdf", b"%PDF"))
        assert_wire_format(message)
        [part] = attachment_parts(message)
        filename = part.get_filename()
        assert filename is not None and filename == attachment_filename(name)
        assert filename.endswith(name[-4:])
        assert len(filename.encode()) <= 200
        assert str(part.get_param("name")).isascii()


def test_an_empty_attachment_round_trips(renderer: Renderer) -> None:
    [part] = attachment_parts(send_attached(renderer, Attachment("empty.txt", "text/plain", b"")))
    assert part.get_payload(decode=True) == b""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("brochure.pdf", "brochure.pdf"),
        ("Broschüre 2026.pdf", "Broschüre 2026.pdf"),
        ("  two\tspaces\r\n.pdf ", "two spaces .pdf"),
        ('say "hi".txt', "say 'hi'.txt"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\Users\\x.pdf", "C:_Users_x.pdf"),
        ("<>", "()"),  # a reader strips <...> around a parameter: it arrived nameless
        ("<offer>.pdf", "(offer).pdf"),
        ("...", "attachment"),
        ("", "attachment"),
        ("\x00\x1b\x7f", "attachment"),
        ("a" * 250 + ".pdf", "a" * 196 + ".pdf"),
        ("a" * 250 + ".notanextension!!", "a" * 200),
    ],
)
def test_attachment_filename(name: str, expected: str) -> None:
    assert attachment_filename(name) == expected


@pytest.mark.parametrize(
    "content_type",
    [
        "pdf",
        "",
        "application/",
        "/pdf",
        "application/pdf; charset=utf-8",
        "application/pdf\r\nBcc: x@y",
        "application/pdf extra",
        "a/b/c",
        "téxt/plain",
        "multipart/mixed",
        "Message/rfc822",
    ],
)
def test_a_bad_content_type_is_refused(content_type: str) -> None:
    with pytest.raises(ValueError, match="content type"):
        Attachment("x.bin", content_type, b"x")


def test_content_types_are_written_in_lower_case(renderer: Renderer) -> None:
    message = send_attached(renderer, Attachment("x.pdf", "Application/PDF", b"x"))
    assert b"Content-Type: application/pdf;" in message


@no_files
@given(
    data=st.binary(max_size=3000),
    filename=names,
    content_type=st.sampled_from(["application/pdf", "text/vcard", "image/png", "text/plain"]),
)
def test_any_attachment_round_trips(
    renderer: Renderer, data: bytes, filename: str, content_type: str
) -> None:
    message = send_attached(
        renderer,
        Attachment(filename, content_type, data),
        Attachment("second.bin", "application/octet-stream", data[::-1]),
    )
    assert_wire_format(message)
    part, second = attachment_parts(message)
    assert part.get_content_type() == content_type
    assert part.get_payload(decode=True) == data
    assert second.get_payload(decode=True) == data[::-1]
    sent = attachment_filename(filename)
    assert part.get_filename() == sent
    assert sent and sent == one_line(sent) and not {'"', "\\", "/", "<", ">"} & set(sent)
    assert not sent.startswith(".") and len(sent.encode()) <= 200
    fallback = str(part.get_param("name"))
    assert fallback.isascii() and fallback == one_line(fallback) and "=?" not in fallback


# --- the referral kinds ------------------------------------------------------------------------

REFERRAL_KINDS = [
    "referral_ask",
    "advocate_thanks",
    "friend_note",
    "owner_referral",
    "advocate_update",
    "advocate_reward",
    "partner_intro_ask",
    "partner_thanks",
]


def flat(text: str) -> str:
    """Text with its line breaks and runs of spaces made single spaces."""
    return " ".join(text.split())


def visible(html: str) -> str:
    """What a reader of an HTML part sees: tags dropped, entities decoded, spaces flattened."""
    html = re.sub(r'(?s)<head>.*</head>|<div class="preheader".*?</div>', "", html)
    html = re.sub(r"</?(?:a|b|strong|em|span|code)\b[^>]*>", "", html)  # inline: no space
    return flat(unescape(re.sub(r"<[^>]*>", " ", html)))


def hrefs(html: str) -> list[str]:
    return [unescape(url) for url in re.findall(r'href="([^"]*)"', html)]


def render_kind(renderer: Renderer, kind: str, **changes: Any) -> tuple[str, str, str]:
    """(subject, text, html) of a kind rendered from its sample with some variables changed."""
    context = {**KINDS[kind].sample, **changes}
    rendered = renderer.render(kind, context, to_email="sam@example.com", message_id=MESSAGE_ID)
    return rendered.subject, rendered.text, rendered.html


@pytest.mark.parametrize("kind", REFERRAL_KINDS)
def test_each_referral_kind_renders_from_its_sample(renderer: Renderer, kind: str) -> None:
    rendered = renderer.preview(kind)
    parsed = parse(rendered.message)
    assert not parsed.defects
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == rendered.text + "\n"
    assert html.get_content().replace("\r\n", "\n") == rendered.html + "\n"
    assert parsed["Subject"] == rendered.subject
    for tag in ("<script", "<img", "<form", "<iframe"):
        assert tag not in rendered.html
    assert all(
        s.strip().startswith("@media")
        for s in re.findall(r"<style>(.*?)</style>", rendered.html, flags=re.S)
    )
    assert 'role="presentation"' in rendered.html
    unsubscribe = KINDS[kind].sample.get("unsubscribe_url")
    if kind == "owner_referral":
        assert unsubscribe is None and "nsubscribe" not in rendered.text + rendered.html
    else:  # customer-facing: the unsubscribe link in the footer of both parts
        assert hrefs(rendered.html)[-1] == unsubscribe
        assert visible(rendered.html).endswith("Unsubscribe")
        assert rendered.text.endswith(f"Unsubscribe: {unsubscribe}")


@pytest.mark.parametrize("kind", REFERRAL_KINDS)
def test_subjects_are_short_and_calm(renderer: Renderer, kind: str) -> None:
    subject = renderer.preview(kind).subject
    assert len(subject) <= 70
    assert "!" not in subject and "$" not in subject and "£" not in subject
    assert not any(len(w.strip("():,.")) > 1 and w.isupper() for w in subject.split())
    assert not {"free", "reward", "win", "cash", "urgent"} & set(subject.lower().split())


@pytest.mark.parametrize("kind", REFERRAL_KINDS)
def test_the_text_and_html_twins_use_every_variable(kind: str) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO / "templates" / "email"))
    for suffix in ("txt", "html"):
        source, _, _ = env.loader.get_source(env, f"{kind}.{suffix}")  # type: ignore[union-attr]
        used = jinja2.meta.find_undeclared_variables(env.parse(source))
        assert used - {"business", "subject"} == set(KINDS[kind].sample), f"{kind}.{suffix}"


def test_the_referral_kinds_are_checked(renderer: Renderer) -> None:
    assert set(REFERRAL_KINDS) <= set(KINDS)
    assert renderer.check() == []


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        ("project_completed", "Thank you for trusting us with your project."),
        ("testimonial", "Thank you for your kind words about Harbor Lane Renovations."),
        ("referral_won", "Thank you again for introducing your friend to us."),
        ("survey_answer", "Thank you for saying you would recommend Harbor Lane Renovations."),
    ],
)
def test_the_ask_opens_with_its_moment(renderer: Renderer, moment: str, opening: str) -> None:
    subject, text, html = render_kind(renderer, "referral_ask", moment=moment)
    assert subject == "Sam, a small favour?"
    assert text.split("\n\n")[1].startswith(opening)
    assert visible(html).startswith(f"Hi Sam, {opening}")


def test_the_ask_carries_link_form_incentive_materials_and_links(renderer: Renderer) -> None:
    _, text, html = render_kind(renderer, "referral_ask")
    sample = KINDS["referral_ask"].sample
    urls = [str(sample[url]) for url in ("referral_url", "introduce_url", "education_url")]
    assert set(urls) <= set(hrefs(html)) and all(url in text for url in urls)
    assert "https://harborlane.example/projects" in hrefs(html)
    for part in (flat(text), visible(html)):
        assert str(sample["referral_url"]) in part
        assert "we give you a £50 voucher for every friend who becomes a client." in part
        assert "choose your thank-you: a £50 voucher or £50 to the Harbour Food Bank." in part
        assert "Harbor Lane Renovations brochure 2026.pdf" in part
        assert "Attached" in part
        assert "Our recent projects" in part
    assert "https://harborlane.example/projects" in text


def test_the_ask_leaves_out_what_it_does_not_have(renderer: Renderer) -> None:
    subject, text, html = render_kind(
        renderer,
        "referral_ask",
        customer_name=None,
        education_url=None,
        incentive=None,
        incentive_choices=[],
        materials=[],
        links=[],
    )
    assert subject == "A small favour?"
    for part in (text, visible(html)):
        assert "Hello," in part
        for absent in ("tips", "thank-you", "Attached", "pass on:", "None"):
            assert absent not in part
    assert "\n\n\n" not in text
    _, text, _ = render_kind(renderer, "referral_ask", incentive=None, incentive_choices=["x"])
    assert "Your thank-you: x." in text


def test_the_ask_with_its_materials_attached(renderer: Renderer) -> None:
    rendered = renderer.render(
        "referral_ask",
        KINDS["referral_ask"].sample,
        to_email="sam@example.com",
        to_name="Sam Carter",
        message_id=MESSAGE_ID,
        attachments=[
            Attachment("Harbor Lane Renovations brochure 2026.pdf", "application/pdf", PDF),
            Attachment("Harbor Lane Renovations.vcf", "text/vcard", VCARD),
        ],
    )
    pdf, vcard = attachment_parts(rendered.message)
    assert pdf.get_filename() == "Harbor Lane Renovations brochure 2026.pdf"
    assert (pdf.get_content(), vcard.get_payload(decode=True)) == (PDF, VCARD)


def test_owner_referral_escapes_the_friend_in_html_only(renderer: Renderer) -> None:
    friend = {"name": "<b>Bob</b>", "email": "bob@example.net", "phone": None}
    subject, text, html = render_kind(renderer, "owner_referral", friend=friend)
    assert "&lt;b&gt;Bob&lt;/b&gt;" in html
    assert "<b>Bob</b>" not in html
    assert "Friend:          <b>Bob</b>" in text
    assert subject == "New referral from Sam Carter: <b>Bob</b> (grade B)"
    assert "Phone:           (not given)" in text


def test_owner_referral_explains_the_grade_and_shows_a_flag(renderer: Renderer) -> None:
    for grade, words in [("A", "the warmest kind"), ("B", "the friend asked"), ("C", "a lead")]:
        subject, text, html = render_kind(renderer, "owner_referral", grade=grade)
        assert subject.endswith(f"(grade {grade})")
        assert f"Grade:           {grade}: {words}" in text
        assert f"Grade {grade}: {words}" in visible(html)
    flag = "The friend's email address is the advocate's own."
    _, text, html = render_kind(renderer, "owner_referral", flag=flag)
    assert f"PLEASE CHECK: {flag}" in text
    assert f"Please check: {flag}" in visible(html)
    _, text, _ = render_kind(renderer, "owner_referral")
    assert "CHECK" not in text
    assert "vouch referral r_8f3k2m9x contacted" in text


def test_owner_referral_says_whether_to_get_in_touch(renderer: Renderer) -> None:
    _, text, _ = render_kind(renderer, "owner_referral", expects_contact=True)
    assert "Expects contact: Yes: please get in touch within one business day." in text
    _, text, html = render_kind(
        renderer, "owner_referral", expects_contact=False, advocate_introduces=True
    )
    assert "they have not agreed to be contacted" in text
    assert "Expects contact No: they have not agreed to be contacted." in visible(html)
    assert "Sam Carter will make the introduction" in text


def test_advocate_thanks_says_what_happens_next(renderer: Renderer) -> None:
    subject, text, html = render_kind(renderer, "advocate_thanks")
    assert subject == "Thank you for introducing Alex Morgan"
    for part in (flat(text), visible(html)):
        assert "we will get in touch with Alex Morgan within one business day" in part
        assert "keep you informed" in part
    subject, text, html = render_kind(
        renderer, "advocate_thanks", expects_contact=False, friend_name=None
    )
    assert subject == "Thank you for introducing your friend"
    for part in (flat(text), visible(html)):
        assert "business day" not in part
        assert "we will not get in touch unless they contact us first" in part


def test_friend_note_names_the_advocate(renderer: Renderer) -> None:
    subject, text, html = render_kind(renderer, "friend_note")
    assert subject == "Sam Carter suggested we get in touch"
    assert text.startswith("Hi Alex,")
    assert "A new kitchen, ideally before the summer." in text
    assert "because Sam Carter introduced you" in visible(html)
    _, text, _ = render_kind(renderer, "friend_note", friend_name=None, need=None)
    assert text.startswith("Hello,") and "in mind" not in text


@pytest.mark.parametrize(
    ("status", "subject", "words"),
    [
        ("contacted", "We have been in touch with Alex Morgan", "we have been in touch with"),
        ("meeting", "We are meeting Alex Morgan", "we are meeting Alex Morgan"),
        ("lost", "News about Alex Morgan", "decided not to go ahead with us this time"),
    ],
)
def test_advocate_update_per_status(
    renderer: Renderer, status: str, subject: str, words: str
) -> None:
    got_subject, text, html = render_kind(renderer, "advocate_update", status=status)
    assert got_subject == subject
    assert words in flat(text) and words in visible(html)
    assert "Alex and I had a good chat on the phone this morning." in text
    _, text, _ = render_kind(renderer, "advocate_update", status=status, note=None)
    assert "good chat" not in text and "None" not in text


def test_advocate_reward_thanks_and_gives_the_code(renderer: Renderer) -> None:
    subject, text, html = render_kind(renderer, "advocate_reward")
    assert subject == "Thank you, Sam: Alex Morgan is now a client"
    assert "Your thank-you from all of us: a £50 voucher." in text
    assert "Your code: HARBOR-7Q2M-50" in text and "Your code: HARBOR-7Q2M-50" in visible(html)
    _, text, _ = render_kind(renderer, "advocate_reward", reward_code=None, customer_name=None)
    assert "code" not in text and "We will be in touch to arrange it." in text
