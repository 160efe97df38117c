"""DKIM: every message the campaign's factory and the engine sign verifies with dkimpy AND with OpenDKIM.

Keys are generated here with ``openssl`` and their DNS records derived with
``openssl`` too (not with the code under test). dkimpy gets the public keys
through its ``dnsfunc`` hook; ``opendkim-testmsg`` through a private DNS
server in its own network namespace (see ``opendkim.py``), exactly as a
receiver would find them at ``SELECTOR._domainkey.DOMAIN``.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim
import opendkim
import pytest
from engine_support import FaultySink, bulk_workspace, running
from helpers import PROSPECTS, SendWorkspace, wait_for
from sqlalchemy import select

from outreach.audience.contacts import ContactView
from outreach.audience.importer import import_contacts
from outreach.campaigns.builder import build_campaign
from outreach.campaigns.definition import load_campaign
from outreach.campaigns.messages import MessageFactory
from outreach.content.dkim import DkimSigner, relaxed_header, select_headers
from outreach.errors import ConfigError, SigningError
from outreach.sending import signing as signing_module
from outreach.sending.engine import send_campaign
from outreach.sending.signing import Signing
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Campaign, Contact, Outbox

SELECTOR, DOMAIN = "sel2026", "contoh-solusi.co.id"  # the example workspace's sender domain
ED_SELECTOR = "ed2026"
Keys = dict[str, Any]  # rsa/ed25519: key file; records: {fqdn: TXT record}


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """A fresh RSA-2048 key (PKCS#8, OpenSSL 3's default) and Ed25519 key, with their TXT records."""
    folder = tmp_path_factory.mktemp("dkim")
    rsa, ed = folder / "private.pem", folder / "ed25519.pem"
    _openssl("genrsa", "-out", str(rsa), "2048")
    _openssl("genpkey", "-algorithm", "ed25519", "-out", str(ed))
    rsa_der = _openssl("rsa", "-in", str(rsa), "-pubout", "-outform", "DER")
    ed_raw = _openssl("pkey", "-in", str(ed), "-pubout", "-outform", "DER")[-32:]  # RFC 8463: the bare key
    return {"rsa": rsa, "ed25519": ed, "records": {
        f"{SELECTOR}._domainkey.{DOMAIN}": "v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_der).decode(),
        f"{ED_SELECTOR}._domainkey.{DOMAIN}": "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_raw).decode(),
    }}  # fmt: skip


def dns_for(records: dict[str, str]) -> Callable[..., bytes | None]:
    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        record = records.get(name.decode().rstrip("."))
        return record.encode() if record else None

    return txt


def signatures(data: bytes) -> list[bytes]:
    """The DKIM-Signature fields at the top of ``data``, each with its folded lines."""
    return re.findall(rb"DKIM-Signature:.*?\r\n(?:[ \t].*?\r\n)*", data.split(b"\r\n\r\n", 1)[0] + b"\r\n")


def each_signature_alone(data: bytes) -> list[bytes]:
    """One copy of the message per signature, with only that signature: OpenDKIM judges each on its own."""
    sigs = signatures(data)
    rest = data
    for sig in sigs:
        rest = rest.replace(sig, b"", 1)
    return [sig + rest for sig in sigs]


def verify_everywhere(messages: list[bytes], records: dict[str, str], count: int = 1) -> None:
    """Each message carries ``count`` signatures, and dkimpy and opendkim-testmsg accept every one."""
    alone = []
    for m in messages:
        assert len(signatures(m)) == count, m[:600]
        assert all(dkimpy_accepts(m, i, records) for i in range(count)), m[:600]
        alone += each_signature_alone(m)
    opendkim.require()
    assert opendkim.verify(alone, records) == [""] * len(alone)


def dkimpy_accepts(message: bytes, idx: int, records: dict[str, str]) -> bool:
    try:
        return bool(dkim.DKIM(message).verify(idx=idx, dnsfunc=dns_for(records)))
    except dkim.DKIMException:  # a body hash mismatch raises rather than answering False
        return False


def rejected_everywhere(message: bytes, records: dict[str, str]) -> None:
    """dkimpy and opendkim-testmsg both reject each of the message's signatures."""
    assert not any(dkimpy_accepts(message, i, records) for i in range(len(signatures(message))))
    opendkim.require()
    assert all(v.startswith("exit") for v in opendkim.verify(each_signature_alone(message), records))


def configure(root: Path, key_file: str, extra: str = "") -> None:
    with (root / "outreach.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"dkim:\n  selector: {SELECTOR}\n  domain: {DOMAIN}\n  private_key_file: {key_file}\n{extra}")


@pytest.fixture
def signed_ws(send_ws: SendWorkspace, keys: Keys) -> SendWorkspace:
    """Key file inside the workspace, named relatively, as a user would."""
    (send_ws.root / "dkim").mkdir()
    (send_ws.root / "dkim" / "private.pem").write_bytes(keys["rsa"].read_bytes())
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


def test_factory_signs_every_message(signed_ws: SendWorkspace, keys: Keys) -> None:
    factory, contacts = factory_and_contacts(signed_ws)

    data = factory.prepare(contacts[0], "<t1@contoh-solusi.co.id>").data

    assert data.startswith(b"DKIM-Signature: ")
    verify_everywhere([data], keys["records"])
    t = tags(data)
    assert (t["d"], t["s"], t["c"], t["a"]) == (DOMAIN, SELECTOR, "relaxed/relaxed", "rsa-sha256")
    signed = t["h"].split(":")
    assert {"from", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post", "to",
            "mime-version", "content-type", "reply-to"} == set(signed)  # fmt: skip
    assert max(len(line) for line in signatures(data)[0].split(b"\r\n")) <= 78


def test_tampering_breaks_the_signature(signed_ws: SendWorkspace, keys: Keys) -> None:
    factory, contacts = factory_and_contacts(signed_ws)
    data = factory.prepare(contacts[0], "<t2@contoh-solusi.co.id>").data
    head, _, body = data.partition(b"\r\n\r\n")

    subject_changed = re.sub(rb"\r\nSubject:[^\r]*(?:\r\n[ \t][^\r]*)*", b"\r\nSubject: Menang undian!", data, count=1)
    body_changed = head + b"\r\n\r\n" + body.replace(b"20%", b"90%", 1)
    unsubscribe_dropped = b"\r\n".join(
        line for line in data.split(b"\r\n") if not line.startswith(b"List-Unsubscribe-Post:")
    )
    reply_to_added = head + b"\r\nReply-To: scam@example.net\r\n\r\n" + body  # signed while absent

    verify_everywhere([data], keys["records"])
    assert b"Menang undian" in subject_changed
    for changed in (subject_changed, body_changed, unsubscribe_dropped, reply_to_added):
        assert changed != data
        rejected_everywhere(changed, keys["records"])


def test_messages_sent_over_smtp_verify(signed_ws: SendWorkspace, keys: Keys) -> None:
    result = signed_ws.run("campaign", "send", "promo", "--yes")

    assert result.exit_code == 0, result.output
    received = signed_ws.server.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(PROSPECTS)
    verify_everywhere([r.data for r in received], keys["records"])


def with_ed25519(root: Path, keys: Keys, processes: int) -> None:
    (root / "rsa.pem").write_bytes(keys["rsa"].read_bytes())
    (root / "ed.pem").write_bytes(keys["ed25519"].read_bytes())
    configure(root, "rsa.pem", f"  ed25519_selector: {ED_SELECTOR}\n  ed25519_private_key_file: ed.pem\n"
                               f"  processes: {processes}\n")  # fmt: skip


@pytest.mark.parametrize("processes", [1, 2])  # in the event loop; in two worker processes
def test_rsa_and_ed25519_signatures_on_every_message_sent(send_ws: SendWorkspace, keys: Keys, processes: int) -> None:
    with_ed25519(send_ws.root, keys, processes)
    assert send_ws.run("campaign", "build", "promo").exit_code == 0

    result = send_ws.run("campaign", "send", "promo", "--yes")

    assert result.exit_code == 0, result.output
    received = send_ws.server.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(PROSPECTS)
    verify_everywhere([r.data for r in received], keys["records"], count=2)
    first, second = (tags(sig) for sig in signatures(received[0].data))
    assert (first["a"], first["s"], second["a"], second["s"]) == ("rsa-sha256", SELECTOR, "ed25519-sha256",
                                                                  ED_SELECTOR)  # fmt: skip
    assert first["bh"] == second["bh"] and first["h"] == second["h"]
    ed_alone = each_signature_alone(received[0].data)[1]
    rejected_everywhere(ed_alone.replace(b"Subject: ", b"Subject: RE: ", 1), keys["records"])  # OpenDKIM checks it


AWKWARD = {  # what relaxed canonicalisation must get right, each judged by both verifiers
    "folded and tabbed headers": b"From: A <a@contoh-solusi.co.id>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                                 b"Subject:\t Hello \t  there\r\n\t  folded  \r\n again\t\r\nTo:  b@example.org  \r\n"
                                 b"\r\nbody\r\n",
    "whitespace in the body": b"From: a@contoh-solusi.co.id\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
                              b"  two  spaces\t\ttabs \r\ntrailing \t\r\n \r\n\t\r\nlast line\r\n",
    "empty lines at the end": b"From: a@contoh-solusi.co.id\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
                              b"text\r\n\r\n\r\n\r\n",
    "empty body": b"From: a@contoh-solusi.co.id\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n",
    "no final line break": b"From: a@contoh-solusi.co.id\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nend",
    "bare LF line ends": b"From: a@contoh-solusi.co.id\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: lf\n\n"
                         b"one\ntwo  \n\n",
    "names in odd case, unsigned fields between": b"FROM: a@contoh-solusi.co.id\r\nReceived: x\r\n"
                                                  b"date: Mon, 1 Jan 2024 00:00:00 +0000\r\nsubJECT: odd\r\n"
                                                  b"received: y\r\n\r\nbody\r\n",
    "8-bit UTF-8 headers and body": "From: Sári <a@contoh-solusi.co.id>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000"
                                    "\r\nSubject: Penawaran khusus — 20%\r\n\r\nTerima kasih, Bapak/Ibu\r\n".encode(),
}  # fmt: skip


def test_awkward_messages_verify_with_both_verifiers(keys: Keys) -> None:
    signer = DkimSigner(SELECTOR, DOMAIN, keys["rsa"].read_bytes(),
                        ed25519=(ED_SELECTOR, keys["ed25519"].read_bytes(), "ed25519.pem"))  # fmt: skip

    signed = [signer.sign(m) for m in AWKWARD.values()]

    verify_everywhere(signed, keys["records"], count=2)
    by_name = dict(zip(AWKWARD, signed, strict=True))
    assert b"\n" not in by_name["bare LF line ends"].replace(b"\r\n", b"")  # signed as SMTP will carry it
    assert by_name["no final line break"].endswith(b"\r\n\r\nend\r\n")
    odd = by_name["names in odd case, unsigned fields between"]
    rejected_everywhere(odd.replace(b"subJECT: odd", b"subJECT: changed"), keys["records"])


def test_the_last_of_repeated_fields_is_signed_and_absent_ones_are_named() -> None:
    """dkimpy's include_headers semantics (RFC 6376 §5.4.2: verifiers take fields from the bottom up)."""
    head = b"Subject: first\r\nFrom: a@x.example\r\nSUBJECT : second\r\n folded"

    assert select_headers(head, (b"from", b"subject", b"reply-to")) == [
        (b"From", b" a@x.example"), (b"SUBJECT ", b" second\r\n folded")]  # fmt: skip
    assert relaxed_header(b"SUBJECT ", b" second\r\n folded") == b"subject:second folded"


def test_signing_in_worker_processes_keeps_order_and_a_dead_worker_is_an_error(keys: Keys) -> None:
    signer = DkimSigner(SELECTOR, DOMAIN, keys["rsa"].read_bytes())
    messages = [b"From: a@contoh-solusi.co.id\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: %d\r\n\r\n"
                b"body %d\r\n" % (i, i) for i in range(41)]  # fmt: skip
    signing = Signing(signer, processes=2)

    async def scenario() -> tuple[list[bytes], list[int], str]:
        try:
            signed = await signing.sign(messages)
            workers = signing_workers()
            os.kill(workers[0], signal.SIGKILL)  # as an out-of-memory kill would hit it
            with pytest.raises(SigningError) as caught:
                await signing.sign(messages[:3])
            return signed, workers, str(caught.value)
        finally:
            await signing.close()

    signed, workers, error = asyncio.run(scenario())

    assert len(workers) == 2 and signing_workers() == []
    assert [m.split(b"\r\n\r\n", 1)[1] for m in signed] == [m.split(b"\r\n\r\n", 1)[1] for m in messages]
    verify_everywhere(signed, keys["records"])
    assert error.startswith("a DKIM signing process died (exit status -9)") and "back in the queue" in error


def test_a_stuck_signing_worker_is_an_error_not_a_hang(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    signing = Signing(DkimSigner(SELECTOR, DOMAIN, keys["rsa"].read_bytes()), processes=2)
    message = b"From: a@contoh-solusi.co.id\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n"

    async def scenario() -> str:
        await signing.sign([message] * 4)  # the workers are up (their start counts against the first batch)
        monkeypatch.setattr(signing_module, "BATCH_TIMEOUT", 1.0)
        stuck = signing_workers()[0]
        os.kill(stuck, signal.SIGSTOP)
        try:
            with pytest.raises(SigningError) as caught:
                await signing.sign([message] * 4)
        finally:
            os.kill(stuck, signal.SIGCONT)
            await signing.close()
        return str(caught.value)

    assert asyncio.run(scenario()).startswith("a DKIM signing process did not answer within 1 s; the messages")
    assert signing_workers() == []


def test_signing_workers_exit_when_their_parent_is_killed(tmp_path: Path, keys: Keys) -> None:
    script = tmp_path / "parent.py"  # no __main__ guard on purpose: workers must not re-run their parent's script
    script.write_text(
        "import asyncio, sys, time\n"
        "from pathlib import Path\n"
        "from outreach.content.dkim import DkimSigner\n"
        "from outreach.sending.signing import Signing\n"
        f"s = Signing(DkimSigner('s', 'x.example', Path({str(keys['rsa'])!r}).read_bytes()), 2)\n"
        "asyncio.run(s.sign([b'From: a@x.example\\r\\n\\r\\nhi\\r\\n'] * 4))\n"
        "print('signed', flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None and parent.stdout.readline() == "signed\n"
    workers = signing_workers(parent.pid)
    assert len(workers) == 2

    parent.kill()
    parent.wait()

    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), what="the signing workers to exit")


def signing_workers(parent: int | None = None) -> list[int]:
    """Pids of the DKIM signing workers whose parent is ``parent`` (default: this process)."""
    parent = parent or os.getpid()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == parent and b"outreach.sending.signing" in cmdline:
            pids.append(int(proc.name))
    return sorted(pids)


class KillsSigners(FaultySink):
    """Accepts mail; after the 20th message, kills the sending process's signing workers."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.received) == 20:
            for pid in signing_workers():
                os.kill(pid, signal.SIGKILL)
        return reply


def test_a_dead_signing_worker_stops_the_send_loudly_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: Keys
) -> None:
    n = 300
    (tmp_path / "rsa.pem").write_bytes(keys["rsa"].read_bytes())
    extra = (f"dkim:\n  selector: {SELECTOR}\n  domain: {DOMAIN}\n  private_key_file: {tmp_path / 'rsa.pem'}\n"
             "  processes: 2\n")  # fmt: skip
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 2000/s, connections: 2}\n", settings_extra=extra)
    with running(KillsSigners()) as sink:
        monkeypatch.setenv("OUTREACH_SMTP_PORT", str(sink.port))
        ws = load_workspace(root)
        engine = open_engine(ws.database_url)
        import_contacts(engine, root / "bulk.csv")
        build_campaign(ws, engine, "blast")

        with pytest.raises(SigningError, match="a DKIM signing process died"):
            asyncio.run(send_campaign(ws, engine, "blast"))

    with transaction(engine) as session:
        states = Counter(session.scalars(select(Outbox.state)))
        sent_ids = set(session.scalars(select(Outbox.message_id).where(Outbox.state == "sent")))
    assert set(states) == {"sent", "queued"} and states["sent"] + states["queued"] == n, states
    assert 20 <= states["sent"] < n
    assert set(sink.message_ids()) == sent_ids and all(c == 1 for c in sink.message_ids().values())
    verify_everywhere(sink.raw[:5], keys["records"])


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


def test_an_rsa_key_given_as_the_ed25519_key_stops_the_campaign(send_ws: SendWorkspace, keys: Keys) -> None:
    (send_ws.root / "rsa.pem").write_bytes(keys["rsa"].read_bytes())
    configure(send_ws.root, "rsa.pem", f"  ed25519_selector: {ED_SELECTOR}\n  ed25519_private_key_file: rsa.pem\n")
    assert send_ws.run("campaign", "build", "promo").exit_code == 0

    result = send_ws.run("campaign", "send", "promo", "--yes")

    assert result.exit_code == 1
    assert result.stderr == (f"Error: dkim.ed25519_private_key_file {send_ws.root / 'rsa.pem'}: not a PEM Ed25519 "
                             "private key (it holds another kind of key)\n")  # fmt: skip
    assert send_ws.server.received == []


@pytest.mark.parametrize(("extra", "message"), [
    (f"  ed25519_selector: {ED_SELECTOR}\n", "set both or neither"),
    ("  ed25519_private_key_file: ed.pem\n", "set both or neither"),
    (f"  ed25519_selector: {SELECTOR}\n  ed25519_private_key_file: ed.pem\n", "must differ from selector"),
    ("  processes: 0\n", "greater than or equal to 1"),
])  # fmt: skip
def test_dkim_settings_are_checked_when_the_workspace_loads(send_ws: SendWorkspace, extra: str, message: str) -> None:
    configure(send_ws.root, "rsa.pem", extra)

    with pytest.raises(ConfigError, match=message) as caught:
        load_workspace(send_ws.root)

    assert "outreach.yaml" in str(caught.value) and "dkim" in str(caught.value)


def test_pkcs1_keys_and_crlf_files_work_and_short_keys_do_not(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    _openssl("genrsa", "-traditional", "-out", str(key), "1024")
    der = _openssl("rsa", "-in", str(key), "-pubout", "-outform", "DER")
    signer = DkimSigner(SELECTOR, DOMAIN, key.read_bytes().replace(b"\n", b"\r\n"))
    msg = b"From: a@contoh-solusi.co.id\r\nTo: b@example.org\r\nSubject: x\r\n\r\nhello\r\n"
    record = {f"{SELECTOR}._domainkey.{DOMAIN}": "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()}
    assert dkim.verify(signer.sign(msg), dnsfunc=dns_for(record))
    assert signer.dns_records() == {SELECTOR: record[f"{SELECTOR}._domainkey.{DOMAIN}"]}
    with pytest.raises(ConfigError, match="k.pem: not a PEM RSA private key"):
        DkimSigner(SELECTOR, DOMAIN, b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                   source="k.pem")  # fmt: skip
    _openssl("genrsa", "-out", str(key), "512")
    with pytest.raises(ConfigError, match="k.pem: a 512-bit RSA key is too short; use 2048 bits"):
        DkimSigner(SELECTOR, DOMAIN, key.read_bytes(), source="k.pem")


def test_signing_cost_per_message(signed_ws: SendWorkspace, capsys: pytest.CaptureFixture[str]) -> None:
    """Reported, not asserted (a timing bound fails on a busy machine); bench/send.py --dkim compares
    it with the bare OpenSSL signature properly."""
    factory, contacts = factory_and_contacts(signed_ws)
    assert factory.dkim is not None
    unsigned = [factory.prepare(c, f"<b{i}@x>", sign=False).data for i, c in enumerate(contacts * 25)]

    start = time.process_time()
    for m in unsigned:
        factory.dkim.sign(m)
    per_message = (time.process_time() - start) / len(unsigned) * 1000

    with capsys.disabled():
        print(f"\n[bench] DKIM rsa-sha256 (2048-bit, relaxed/relaxed): {per_message:.2f} ms CPU/message "
              f"over {len(unsigned)} messages of ~{len(unsigned[0]) // 1024} KB")  # fmt: skip
    assert all(factory.dkim.sign(m).startswith(b"DKIM-Signature:") for m in unsigned[:3])


def test_an_ed25519_key_may_be_dkimpys_base64_seed(keys: Keys) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(keys["ed25519"].read_bytes(), None)
    seed = base64.b64encode(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))  # fmt: skip
    signer = DkimSigner(SELECTOR, DOMAIN, keys["rsa"].read_bytes(), ed25519=(ED_SELECTOR, seed + b"\n", "seed"))

    verify_everywhere([signer.sign(AWKWARD["empty lines at the end"])], keys["records"], count=2)
