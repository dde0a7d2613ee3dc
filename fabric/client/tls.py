"""The TLS transport: `-H tcp://ADDR:PORT` with `--tlsverify` (or `--tls`).

Imported only when TLS is asked for, so that commands over a unix socket never pay for
`import ssl`.
"""

import socket
import ssl

from fabric import tlsconf
from fabric.client.connect import TlsOptions
from fabric.client.http import ConnectionFailed, DaemonUnavailable, TcpTransport


class TlsTransport(TcpTransport):
    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float = 10.0):
        super().__init__(host, port, timeout)
        self.context = context

    @classmethod
    def for_address(cls, addr: str, opts: TlsOptions) -> "TlsTransport":
        host, port = cls.split(addr, tlsconf.TLS_PORT)
        folder = opts.cert_path or tlsconf.cert_dir()
        found = tlsconf.default_files(folder, server=False)
        files = tlsconf.Files(opts.cacert or found.ca, opts.cert or found.cert,
                              opts.key or found.key)
        if opts.verify and not files.ca:
            raise ValueError(f"--tlsverify needs a CA certificate: --tlscacert, or "
                             f"{tlsconf.CA} in {folder}")
        try:
            return cls(host, port, tlsconf.client_context(files, opts.verify))
        except (ssl.SSLError, OSError) as e:   # a file that holds no certificate or key
            raise ValueError(f"cannot load the TLS files ({files.ca}, {files.cert}, "
                             f"{files.key}): {e}") from None

    def connect(self) -> socket.socket:
        raw = self.open()
        try:
            s = self.context.wrap_socket(raw, server_hostname=self.host)
        except OSError as e:
            raw.close()
            raise ConnectionFailed(f"TLS connection to {self.url} failed: "
                                   f"{tlsconf.explain(e)}") from None
        s.settimeout(None)
        return s

    def failed(self, e: OSError) -> DaemonUnavailable:
        # TLS 1.3 checks the client's certificate after the client's side of the
        # handshake is done: a refusal arrives as an alert on the first read.
        if isinstance(e, ssl.SSLError):
            return ConnectionFailed(f"TLS connection to {self.url} failed: "
                                    f"{tlsconf.explain(e)}")
        return super().failed(e)
