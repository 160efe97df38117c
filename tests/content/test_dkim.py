"""DKIM: messages built by the campaign's factory are signed, and verify with the published key.

Keys are generated here with ``openssl genrsa``; ``dkim.verify`` gets the
public key through its ``dnsfunc`` hook instead of DNS, exactly as a
receiver would find it at ``SELECTOR._domainkey.DOMAIN``.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from helpers import PROSPECTS, SendWorkspace
from sqlalchemy import select

from outreach.audience.contacts import ContactView
from outreach.campaigns.definition import load_campaign
from outreach.campaigns.messages import MessageFactory
from outreach.content.dkim import DkimSigner
from outreach.errors import ConfigError
from outreach.storage import transaction
from outreach.storage.models import Campaign, Contact

SELECTOR, DOMAIN = "sel2026", "contoh-solusi.co.id"  # the example workspace's sender domain


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """(private key file, DNS TXT record) for a fresh RSA-2048 key (PKCS#8, OpenSSL 3's default)."""
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "private.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout  # fmt: skip
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def dns_for(record: bytes) -> Callable[..., bytes | None]:
    expected = f"{SELECTOR}._domainkey.{DOMAIN}.".encode()

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == expected else None

    return txt


def configure(root: Path, key_file: str) -> None:
    with (root / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"dkim:\n  selector: {SELECTOR}\n  domain: {DOMAIN}\n  private_key_file: {key_file}\n")


@pytest.fixture
def signed_ws(send_ws: SendWorkspace, keypair: tuple[Path, bytes]) -> SendWorkspace:
    """Key file inside the workspace, named relatively, as a user would."""
    (send_ws.root / "dkim").mkdir()
    (send_ws.root / "dkim" / "private.pem").write_bytes(keypair[0].read_bytes())
    configure(send_ws.root, "dkim/private.pem")
    result = send_ws.run("campaign", "build", "promo")
    assert result.exit_code == 0, result.output
    return send_ws


def factory_and_contacts(sw: SendWorkspace) -> tuple[MessageFactory, list[ContactView]]:
    ws = sw.ws
    engine = sw.engine()
    with transaction(engine) as session:
        campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == "promo"))
        contacts = [ContactView.of(c) for c in session.scalars(select(Contact).where(Contact.email.in_(PROSPECTS)))]
    factory = MessageFactory.for_campaign(ws, engine, load_campaign(ws, "promo"), campaign_id)  # type: ignore[arg-type]
    engine.dispose()
    return factory, contacts


def tags(data: bytes) -> dict[str, str]:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    value = "".join(str(msg["DKIM-Signature"]).split())
    return dict(part.split("=", 1) for part in value.split(";") if part)


def test_factory_signs_every_message(signed_ws: SendWorkspace, keypair: tuple[Path, bytes]) -> None:
    factory, contacts = factory_and_contacts(signed_ws)

    data = factory.prepare(contacts[0], "<t1@contoh-solusi.co.id>").data

    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dns_for(keypair[1]))
    t = tags(data)
    assert (t["d"], t["s"], t["c"], t["a"]) == (DOMAIN, SELECTOR, "relaxed/relaxed", "rsa-sha256")
    signed = t["h"].split(":")
    assert {"from", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post", "to",
            "mime-version", "content-type"} <= set(signed)  # fmt: skip


def test_tampering_breaks_the_signature(signed_ws: SendWorkspace, keypair: tuple[Path, bytes]) -> None:
    factory, contacts = factory_and_contacts(signed_ws)
    data = factory.prepare(contacts[0], "<t2@contoh-solusi.co.id>").data
    head, _, body = data.partition(b"\r\n\r\n")
    dns = dns_for(keypair[1])

    subject_changed = re.sub(rb"\r\nSubject:[^\r]*(?:\r\n[ \t][^\r]*)*", b"\r\nSubject: Menang undian!", data, count=1)
    body_changed = head + b"\r\n\r\n" + body.replace(b"20%", b"90%", 1)
    unsubscribe_dropped = b"\r\n".join(
        line for line in data.split(b"\r\n") if not line.startswith(b"List-Unsubscribe-Post:")
    )

    assert dkim.verify(data, dnsfunc=dns)
    assert b"Menang undian" in subject_changed and not dkim.verify(subject_changed, dnsfunc=dns)
    assert body_changed != data and not dkim.verify(body_changed, dnsfunc=dns)
    assert unsubscribe_dropped != data and not dkim.verify(unsubscribe_dropped, dnsfunc=dns)


def test_messages_sent_over_smtp_verify(signed_ws: SendWorkspace, keypair: tuple[Path, bytes]) -> None:
    result = signed_ws.run("campaign", "send", "promo", "--yes")

    assert result.exit_code == 0, result.output
    received = signed_ws.server.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(PROSPECTS)
    for r in received:
        assert dkim.verify(r.data, dnsfunc=dns_for(keypair[1])), r.rcpt_tos


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read it (No such file or directory)"),
    (b"not a key\n", "not a PEM RSA private key"),
])  # fmt: skip
def test_a_bad_key_stops_the_campaign_before_sending(send_ws: SendWorkspace, content: bytes | None,
                                                     message: str) -> None:  # fmt: skip
    if content is not None:
        (send_ws.root / "bad.pem").write_bytes(content)
    configure(send_ws.root, "bad.pem")
    assert send_ws.run("campaign", "build", "promo").exit_code == 0

    result = send_ws.run("campaign", "send", "promo", "--yes")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: dkim.private_key_file {send_ws.root / 'bad.pem'}: {message}")
    assert send_ws.server.received == []
    assert '"queued": 4' in send_ws.run("campaign", "status", "promo", "--json").stdout


def test_pkcs1_keys_and_crlf_files_work(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "1024"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout  # fmt: skip
    signer = DkimSigner(SELECTOR, DOMAIN, key.read_bytes().replace(b"\n", b"\r\n"))
    msg = b"From: a@contoh-solusi.co.id\r\nTo: b@example.org\r\nSubject: x\r\n\r\nhello\r\n"
    assert dkim.verify(signer.sign(msg), dnsfunc=dns_for(b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)))
    with pytest.raises(ConfigError, match="k.pem: not a PEM RSA private key"):
        DkimSigner(SELECTOR, DOMAIN, b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                   source="k.pem")  # fmt: skip


def test_signing_cost_per_message(signed_ws: SendWorkspace, capsys: pytest.CaptureFixture[str]) -> None:
    """Reported, not asserted (a timing bound fails on a busy machine): dkimpy's pure-Python RSA-2048
    costs a few ms per message."""
    factory, contacts = factory_and_contacts(signed_ws)
    assert factory.dkim is not None
    plain = MessageFactory(factory.ws, factory.spec, factory.campaign_id, factory.signer, factory.content)
    unsigned = [plain.prepare(c, f"<b{i}@x>").data for i, c in enumerate(contacts * 25)]

    start = time.perf_counter()
    for m in unsigned:
        factory.dkim.sign(m)
    per_message = (time.perf_counter() - start) / len(unsigned) * 1000

    with capsys.disabled():
        print(f"\n[bench] DKIM rsa-sha256 (2048-bit, relaxed/relaxed): {per_message:.2f} ms/message "
              f"over {len(unsigned)} messages of ~{len(unsigned[0]) // 1024} KB")  # fmt: skip
    assert all(factory.dkim.sign(m).startswith(b"DKIM-Signature:") for m in unsigned[:3])
