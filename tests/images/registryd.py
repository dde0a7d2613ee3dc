"""A real registry for the tests: Debian's docker-registry, inside a lab host's network
namespace, over plain HTTP or over TLS with basic auth. Its storage and certificates
live in a temporary directory that goes with it; the process is killed by pid."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

BINARY = shutil.which("docker-registry")


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # Debian 12's Python still has it; bcrypt is what the registry reads
        # the lowest cost: the registry checks the password on every request
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


def make_cert(directory: str, ip: str) -> tuple[str, str]:
    """A self-signed certificate for ip (its own CA); (cert path, key path)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", f"/CN={ip}", "-addext", f"subjectAltName=IP:{ip}"],
                   check=True, capture_output=True)
    return cert, key


class Registry:
    def __init__(self, host, addr: str = "127.0.0.1", port: int = 5000, tls: bool = False,
                 users: dict[str, str] | None = None):
        self.host, self.addr, self.port = host, addr, port
        self.dir = tempfile.mkdtemp(prefix="fabric-registry-")
        self.storage = os.path.join(self.dir, "storage")
        self.cert = None
        lines = ["version: 0.1", "log:", "  level: error", "  accesslog:",
                 "    disabled: true", "storage:", "  filesystem:",
                 f"    rootdirectory: {self.storage}", "  delete:", "    enabled: true",
                 "http:", f"  addr: {addr}:{port}", "  secret: fabric-tests"]
        if tls:
            self.cert, key = make_cert(self.dir, addr)
            lines += ["  tls:", f"    certificate: {self.cert}", f"    key: {key}"]
        if users:
            pw = os.path.join(self.dir, "htpasswd")
            with open(pw, "w") as f:
                f.writelines(f"{u}:{_bcrypt(p)}\n" for u, p in users.items())
            lines += ["auth:", "  htpasswd:", "    realm: fabric-tests", f"    path: {pw}"]
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(self.dir, "registry.log"), "w")
        self.proc = subprocess.Popen(host.prefix + [BINARY, "serve", config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    @property
    def name(self) -> str:
        return f"{self.addr}:{self.port}"

    def _wait(self) -> None:
        deadline = time.monotonic() + 10
        probe = (f"{sys.executable} -c 'import socket; "
                 f"socket.create_connection((\"{self.addr}\", {self.port}), 1)'")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.logs()}")
            if self.host.sh(probe, check=False).code == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer: {self.logs()}")

    def logs(self) -> str:
        try:
            with open(os.path.join(self.dir, "registry.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def blob_path(self, digest: str) -> str:
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker", "registry", "v2", "blobs", "sha256",
                            hexd[:2], hexd, "data")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
