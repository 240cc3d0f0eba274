"""What the owner must publish in DNS so that Vouch's email reaches inboxes (`vouch check
--deliverability`): SPF, DKIM and DMARC for the sending domain, and the bulk-sender rules of
Gmail and Yahoo. A pure function of the loaded config: no DNS is queried here.
"""

from __future__ import annotations

from daemon.config import Config

#: SMTP hosts of common providers → the SPF `include:` they document (a hint; their docs rule).
SPF_INCLUDES = (
    ("gmail.com", "_spf.google.com"),
    ("googlemail.com", "_spf.google.com"),
    ("office365.com", "spf.protection.outlook.com"),
    ("outlook.com", "spf.protection.outlook.com"),
    ("sendgrid.net", "sendgrid.net"),
    ("mailgun.org", "mailgun.org"),
    ("postmarkapp.com", "spf.mtasvc.net"),
    ("amazonaws.com", "amazonses.com"),
    ("sparkpostmail.com", "sparkpostmail.com"),
    ("mailjet.com", "spf.mailjet.com"),
    ("brevo.com", "spf.brevo.com"),
    ("sendinblue.com", "spf.brevo.com"),
    ("zoho.com", "zoho.com"),
    ("zoho.eu", "zoho.eu"),
    ("messagingengine.com", "spf.messagingengine.com"),
    ("fastmail.com", "spf.messagingengine.com"),
)
_TXT_CHUNK = 255  # the longest character-string in a TXT record (RFC 1035)


def spf_include(smtp_host: str) -> str | None:
    """The SPF include a known provider documents for this SMTP host; None when unknown."""
    host = smtp_host.lower().rstrip(".")
    for suffix, include in SPF_INCLUDES:
        if host == suffix or host.endswith("." + suffix):
            return include
    return None


def zone_txt(value: str) -> str:
    """A TXT value as zone-file text: quoted strings of at most 255 characters."""
    chunks = [value[i : i + _TXT_CHUNK] for i in range(0, len(value), _TXT_CHUNK)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def aligned(from_domain: str, dkim_domain: str) -> bool:
    """DMARC relaxed alignment, approximately: one domain is the other or a subdomain of it."""
    a, b = from_domain.lower(), dkim_domain.lower()
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def dns_advice(config: Config) -> str:
    """The DNS records to publish for the configured sending domain, with a line on each."""
    settings = config.settings
    business = settings.business
    domain = business.email.rsplit("@", 1)[1]
    email = settings.email
    out = [
        f"Deliverability: DNS records for {domain} (the domain of business.email, "
        f"{business.email})",
        "",
        "1. SPF: which servers may send mail for the domain. One TXT record on the domain itself;",
        "   if there is a v=spf1 record already, add the include to it (one SPF record a domain).",
    ]
    if email.transport == "maildir":
        out += [
            "   The transport is maildir: nothing is sent yet (emails are written as .eml files",
            f"   under {email.maildir.path}). When you set up [email.smtp], publish the include",
            "   your SMTP provider documents:",
            f'   {domain}.  TXT  "v=spf1 include:<your provider\'s SPF domain> ~all"',
        ]
    else:
        assert email.smtp is not None
        include = spf_include(email.smtp.host)
        if include:
            out += [
                f"   Your SMTP host {email.smtp.host} is usually covered by include:{include}",
                "   (check your provider's documentation; the include depends on the provider):",
                f'   {domain}.  TXT  "v=spf1 include:{include} ~all"',
            ]
        else:
            out += [
                f"   The include depends on your SMTP provider ({email.smtp.host}): use the one",
                "   its documentation gives, or ip4:<address> if you run the mail server yourself:",
                f'   {domain}.  TXT  "v=spf1 include:<your provider\'s SPF domain> ~all"',
            ]
    out += ["", "2. DKIM: the public half of the key that signs every email Vouch sends."]
    signer = config.dkim
    if signer is not None:
        record = signer.dns_record
        out += [
            f"   {signer.dns_name}.  TXT  {zone_txt(record)}",
            f"   (the value, for a DNS provider's web form: {record})",
            f"   Key: {email.dkim.key_file if email.dkim else '?'}, {signer.key.key_size} bits, "
            f"selector {signer.selector}, domain {signer.domain}.",
        ]
        if not aligned(domain, signer.domain):
            out.append(
                f"   Warning: DKIM signs for {signer.domain} but the From domain is {domain}: "
                "DMARC needs them aligned (the same domain or a subdomain of it)."
            )
    else:
        out += [
            "   Not configured: emails go out unsigned. Make a key next to config.toml:",
            "     mkdir -p dkim && openssl genrsa -out dkim/vouch.pem 2048",
            "     chmod 600 dkim/vouch.pem",
            "   then add to config.toml and run this command again to see the record to publish:",
            "     [email.dkim]",
            '     selector = "vouch"',
            '     key_file = "dkim/vouch.pem"',
            f'   (the record will be vouch._domainkey.{domain} TXT "v=DKIM1; k=rsa; p=...")',
        ]
    out += [
        "",
        "3. DMARC: what receivers do with mail that fails SPF and DKIM, and where to report it.",
        f'   _dmarc.{domain}.  TXT  "v=DMARC1; p=none; rua=mailto:{business.owner_email}"',
        "   Start with p=none and read the reports for a few weeks; once every legitimate sender",
        "   passes, move to p=quarantine (then p=reject) so forged mail from your domain is",
        "   filtered.",
        "",
        "Gmail and Yahoo bulk-sender rules (since 2024; binding from ~5,000 emails a day):",
        "  - SPF and DKIM pass, and a DMARC record exists (p=none is enough), aligned with the",
        "    From domain;",
        "  - one-click unsubscribe (RFC 8058): already on every customer email Vouch sends",
        "    (List-Unsubscribe and List-Unsubscribe-Post headers, and a visible link);",
        "  - a spam-complaint rate under 0.3% (aim for 0.1%): watch Google Postmaster Tools;",
        "  - TLS, and forward and reverse DNS (PTR) for the sending IP: an SMTP provider does",
        "    this for you.",
    ]
    return "\n".join(out) + "\n"
