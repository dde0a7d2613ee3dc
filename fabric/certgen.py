"""`fabric tls init`: a CA, the daemon's certificate and a client's, in one step, named
as the seeds' openssl steps name them (fabric.tlsconf). Made with the `cryptography`
package: no hand-made crypto.

ECDSA P-256 keys: as strong as RSA-3072 for this use, generated in milliseconds, and
understood by Go's TLS (the docker CLI) and OpenSSL alike.
"""

import datetime as dt
import ipaddress
import os
import secrets
import socket

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fabric import tlsconf
from fabric.errors import Conflict, InvalidArgument

CA_KEY = "ca-key.pem"


def default_hosts() -> list[str]:
    """What a user connects with on this machine: localhost and the machine's names."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn()]
    return list(dict.fromkeys(n for n in names if n))


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    out: list[x509.GeneralName] = []
    for h in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            if not h or any(c in h for c in "/: "):
                raise InvalidArgument(f"not a host name or IP address: {h!r}") from None
            out.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(out)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fabric"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _sign(subject: str, key, issuer: x509.Name, issuer_key, not_before: dt.datetime,
          not_after: dt.datetime, extensions: list[tuple[x509.ExtensionType, bool]]
          ) -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after))
    for ext, critical in extensions:
        b = b.add_extension(ext, critical)
    return b.sign(issuer_key, hashes.SHA256())


def _usage(**kw: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                           "data_encipherment", "key_agreement", "key_cert_sign",
                           "crl_sign", "encipher_only", "decipher_only"), False)
    flags.update(kw)
    return x509.KeyUsage(**flags)


def _write(path: str, data: bytes, secret: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def init(directory: str, hosts: list[str] | None = None, days: int = 365,
         force: bool = False) -> list[str]:
    """Write ca.pem, ca-key.pem, server-cert.pem, server-key.pem, cert.pem and key.pem
    into `directory`; the server's certificate names `hosts`. Returns the paths."""
    hosts = hosts or default_hosts()
    if days < 1:
        raise InvalidArgument("--days must be at least 1")
    names = [tlsconf.CA, CA_KEY, tlsconf.SERVER_CERT, tlsconf.SERVER_KEY,
             tlsconf.CLIENT_CERT, tlsconf.CLIENT_KEY]
    paths = [os.path.join(directory, n) for n in names]
    there = [p for p in paths if os.path.exists(p)]
    if there and not force:
        raise Conflict(f"{there[0]} exists; give --force to replace the certificates "
                       "(clients holding the old ones will be refused)")
    san = _san(hosts)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # clocks drift
    until = now + dt.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    # Each CA its own name: peers look a CA up by name, and two CAs of one name make a
    # certificate of the other fail as a bad signature instead of an unknown CA.
    ca_name = f"fabric CA {secrets.token_hex(4)}"
    ca = _sign(ca_name, ca_key, _name(ca_name), ca_key, now, until, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_usage(key_cert_sign=True, crl_sign=True, digital_signature=True), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)])
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _sign(hosts[0], server_key, ca.subject, ca_key, now, until, [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_usage(digital_signature=True, key_agreement=True), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False), (san, False)])
    os.makedirs(directory, mode=0o700, exist_ok=True)
    client_key, client = issue_client(ca, ca_key, now, until)
    for path, data, secret in zip(paths, [
            ca.public_bytes(serialization.Encoding.PEM), _pem_key(ca_key),
            server.public_bytes(serialization.Encoding.PEM), _pem_key(server_key),
            client.public_bytes(serialization.Encoding.PEM), _pem_key(client_key)],
            [False, True, False, True, False, True]):
        _write(path, data, secret)
    return paths


def issue_client(ca: x509.Certificate, ca_key, not_before: dt.datetime,
                 not_after: dt.datetime, cn: str = "client"
                 ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A client's key and certificate signed by the CA, valid in the given window."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _sign(cn, key, ca.subject, ca_key, not_before, not_after, [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_usage(digital_signature=True, key_agreement=True), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)])
    return key, cert


def issue_client_files(directory: str, out_dir: str, not_before: dt.datetime,
                       not_after: dt.datetime, cn: str = "client") -> None:
    """cert.pem and key.pem in `out_dir`, signed by the CA in `directory` (also a
    certificate that has expired, or is not valid yet, for tests)."""
    with open(os.path.join(directory, tlsconf.CA), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(directory, CA_KEY), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    key, cert = issue_client(ca, ca_key, not_before, not_after, cn)
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    _write(os.path.join(out_dir, tlsconf.CLIENT_CERT),
           cert.public_bytes(serialization.Encoding.PEM), False)
    _write(os.path.join(out_dir, tlsconf.CLIENT_KEY), _pem_key(key), True)
