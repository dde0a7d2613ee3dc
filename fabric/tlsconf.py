"""Mutual TLS for the API over TCP, with Python's `ssl` module only.

File names are Docker's (the seeds' openssl steps make them, and `fabric tls init`
does the same in one command): in a certificate folder, `ca.pem` is the CA both sides
trust, `server-cert.pem`/`server-key.pem` the daemon's pair, `cert.pem`/`key.pem` a
client's. The folder is `FABRIC_CERT_PATH`, default `~/.fabric`.

This module is imported only when TLS is asked for: `import ssl` costs the CLI time
that `fabric ps` over a unix socket must not pay.
"""

import os
import ssl
from dataclasses import dataclass

CA, SERVER_CERT, SERVER_KEY, CLIENT_CERT, CLIENT_KEY = (
    "ca.pem", "server-cert.pem", "server-key.pem", "cert.pem", "key.pem")
TLS_PORT, PLAIN_PORT = 2376, 2375


def cert_dir() -> str:
    return os.environ.get("FABRIC_CERT_PATH") or os.path.expanduser("~/.fabric")


@dataclass(frozen=True)
class Files:
    """Which files one side uses: a CA to check the peer with, and its own pair."""
    ca: str | None
    cert: str | None
    key: str | None


def _readable(kind: str, path: str | None) -> None:
    if path and not os.path.isfile(path):
        raise ValueError(f"{kind} {path} does not exist")


def server_context(files: Files, verify: bool) -> ssl.SSLContext:
    """The daemon's side: its pair always; with `verify`, a client certificate signed by
    the CA is required in the handshake (no certificate, another CA's or an expired one
    ends the connection there)."""
    for kind, path in (("CA certificate", files.ca), ("server certificate", files.cert),
                       ("server key", files.key)):
        _readable(kind, path)
    if not files.cert or not files.key:
        raise ValueError("TLS needs the server's certificate and key (--tlscert, --tlskey)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.cert, files.key)
    if verify:
        if not files.ca:
            raise ValueError("--tlsverify needs the CA that signs clients (--tlscacert)")
        ctx.load_verify_locations(files.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(files: Files, verify: bool) -> ssl.SSLContext:
    """The client's side: with `verify`, the daemon's certificate must be signed by the
    CA and name the host connected to; the client's own pair is sent when there is one."""
    for kind, path in (("CA certificate", files.ca), ("client certificate", files.cert),
                       ("client key", files.key)):
        _readable(kind, path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        if not files.ca:
            raise ValueError("--tlsverify needs the CA that signed the daemon (--tlscacert)")
        ctx.load_verify_locations(files.ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if files.cert and files.key:
        ctx.load_cert_chain(files.cert, files.key)
    return ctx


def default_files(directory: str, server: bool) -> Files:
    """A certificate folder's files for one side, those present only."""
    names = (CA, SERVER_CERT, SERVER_KEY) if server else (CA, CLIENT_CERT, CLIENT_KEY)
    paths = [os.path.join(directory, n) for n in names]
    ca, cert, key = (p if os.path.isfile(p) else None for p in paths)
    return Files(ca, cert, key)


# What the alerts a TLS peer sends mean to a user, by OpenSSL's reason names.
_REASONS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the daemon requires a client certificate "
                                         "(--tlscert/--tlskey, or cert.pem and key.pem in "
                                         "the certificate folder)",
    "TLSV1_ALERT_UNKNOWN_CA": "the daemon does not trust the client certificate's CA",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the daemon refused the client certificate",
    "TLSV1_ALERT_DECRYPT_ERROR": "the daemon refused the client certificate (signed by "
                                 "another CA of the same name?)",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the daemon refused the client certificate: expired",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the TLS handshake failed",
    "WRONG_VERSION_NUMBER": "the daemon does not speak TLS there (plain HTTP?)",
}


def explain(e: OSError) -> str:
    """One line saying why a TLS connection failed."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"the daemon's certificate is not trusted: {e.verify_message}"
    if isinstance(e, ssl.SSLEOFError):
        return "the daemon ended the TLS handshake (does it require a client certificate?)"
    if isinstance(e, ssl.SSLError):
        reason = e.reason or ""
        return _REASONS.get(reason, f"TLS error: {reason or e}")
    return str(e)
