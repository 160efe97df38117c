"""SMTP over TLS, STARTTLS and AUTH against a real aiosmtpd server with a certificate made here."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from engine_support import FaultySink, bulk_workspace
from helpers import SmtpController, invoke

PASSWORD = "rahasia-123"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, crt = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


def server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"awang", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def workspace(tmp_path: Path, port: int, security: str, cert: Path | None, username: str | None = None) -> Path:
    smtp = f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: {security}\n"
    if cert:
        smtp += f"  ca_file: {cert}\n"
    if username:
        smtp += f"  username: {username}\n"
    root = bulk_workspace(tmp_path / "ws", 3, "throttle: {rate: 1000/s}\n")
    text = (root / "outreach.yaml").read_text()
    start = text.index("smtp:")
    end = text.index("senders:")
    (root / "outreach.yaml").write_text(text[:start] + smtp + text[end:])
    for args in (("contacts", "import", str(root / "bulk.csv")), ("campaign", "build", "blast")):
        assert invoke(*args, ws=root).exit_code == 0
    return root


def test_implicit_tls_with_a_trusted_ca(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    sink = FaultySink()
    ctl = SmtpController(sink, ssl_context=server_context(cert))
    ctl.start()
    try:
        root = workspace(tmp_path, ctl.port, "tls", cert[0])
        result = invoke("campaign", "send", "blast", "--yes", ws=root)
    finally:
        ctl.stop()
    assert result.exit_code == 0, result.output
    assert len(sink.received) == 3


def test_starttls_with_auth_and_the_password_from_the_environment(tmp_path: Path, cert: tuple[Path, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    sink = FaultySink()
    ctl = SmtpController(sink, tls_context=server_context(cert),
                     require_starttls=True, authenticator=authenticator, auth_required=True)  # fmt: skip
    ctl.start()
    try:
        root = workspace(tmp_path, ctl.port, "starttls", cert[0], username="awang")
        monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", "wrong")
        refused = invoke("campaign", "send", "blast", "--yes", ws=root)
        monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", PASSWORD)
        accepted = invoke("campaign", "send", "blast", "--yes", ws=root)
    finally:
        ctl.stop()
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: SMTP login to 127.0.0.1:{ctl.port} as awang refused (535")
    assert "check the password in $OUTREACH_SMTP_PASSWORD" in refused.stderr
    assert accepted.exit_code == 0, accepted.output
    assert len(sink.received) == 3


def test_an_untrusted_certificate_is_refused(tmp_path: Path, cert: tuple[Path, Path]) -> None:
    sink = FaultySink()
    ctl = SmtpController(sink, ssl_context=server_context(cert))
    ctl.start()
    try:
        root = workspace(tmp_path, ctl.port, "tls", None)
        result = invoke("campaign", "send", "blast", "--yes", ws=root)
    finally:
        ctl.stop()
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot connect to SMTP relay 127.0.0.1:{ctl.port}")
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert sink.received == []
