"""`fabric daemon`: serve one host root's engine on its unix socket, and on the other
sockets `-H` (or settings.json's `hosts`) names: TCP only with mutual TLS, unless told
`--insecure-tcp` (fabric.host.api_settings).

The daemon takes the root's lock before anything else; a second daemon for the same
root (two CLIs racing to start one) finds it held and exits quietly.
"""

import argparse
import fcntl
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from fabric.errors import FabricError
from fabric.paths import HostRoot, default_root

if TYPE_CHECKING:
    from fabric.daemon.listeners import TcpHTTPServer, UnixHTTPServer


def _options() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="fabric daemon")
    ap.add_argument("--root", default=default_root())
    ap.add_argument("--socket", default=None)
    # dockerd's network options, with its meanings; they override <root>/settings.json.
    ap.add_argument("--bip", default=None, help="the default bridge's address/prefix")
    ap.add_argument("--fixed-cidr", default=None, help="allocate default-bridge addresses here")
    ap.add_argument("-b", "--bridge", default=None,
                    help="use this existing bridge ('none': no default bridge)")
    ap.add_argument("--mtu", type=int, default=None)
    for flag in ("icc", "ip-forward", "ip-masq", "iptables"):
        ap.add_argument(f"--{flag}", default=None, choices=("true", "false"))
    ap.add_argument("--firewall-backend", default=None, choices=("nftables", "iptables"))
    ap.add_argument("--routed-subnets", default=None, metavar="CIDR[,CIDR...]",
                    help="reach the default bridge's containers from these subnets, and "
                         "them from it, without NAT (hand-made routes between hosts)")
    # Docker's legacy multi-host flags, with their names
    ap.add_argument("--cluster-store", default=None, metavar="URL",
                    help="the store the hosts of a cluster share (sqlite:///PATH or "
                         "etcd://ADDR:PORT[,ADDR:PORT...])")
    ap.add_argument("--cluster-advertise", default=None, metavar="ADDRESS",
                    help="the address other hosts reach this one at")
    # dockerd's API options (and fabric's --insecure-tcp), also settings.json keys.
    ap.add_argument("-H", "--host", dest="hosts", action="append", default=[],
                    help="also serve here: unix:///PATH or tcp://ADDR:PORT (repeatable)")
    ap.add_argument("--tlsverify", action="store_true", default=None,
                    help="TCP clients need a certificate signed by --tlscacert")
    ap.add_argument("--tls", action="store_true", default=None,
                    help="TLS without checking clients (needs --insecure-tcp)")
    ap.add_argument("--tlscacert", default=None)
    ap.add_argument("--tlscert", default=None)
    ap.add_argument("--tlskey", default=None)
    ap.add_argument("--insecure-tcp", action="store_true", default=None,
                    help="allow TCP without mutual TLS: whoever reaches it is root here")
    return ap


def main(argv: list[str] | None = None) -> None:
    from fabric.host import api_settings, settings
    args = _options().parse_args(argv)
    root = HostRoot(os.path.abspath(args.root))
    try:
        settings.check_file(root.settings)
        api = api_settings.load(root.settings, {
            "hosts": args.hosts, "tls": args.tls, "tlsverify": args.tlsverify,
            "insecure-tcp": args.insecure_tcp,
            **{k: os.path.abspath(v) for k in ("tlscacert", "tlscert", "tlskey")
               if (v := getattr(args, k))}})
    except FabricError as e:
        sys.exit(f"fabric daemon: {e.message}")
    os.makedirs(root.path, mode=0o711, exist_ok=True)
    lock = open(root.lock, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another daemon serves this root
    if os.path.exists(root.removing):
        return  # the host is being torn down: an exit hook must not bring it back
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    overrides = {k: getattr(args, k.replace("-", "_")) for k in
                 ("bip", "fixed-cidr", "bridge", "mtu", "icc", "ip-forward", "ip-masq",
                  "iptables", "firewall-backend", "routed-subnets", "cluster-store",
                  "cluster-advertise")}
    for k in ("icc", "ip-forward", "ip-masq", "iptables"):
        if overrides[k] is not None:
            overrides[k] = overrides[k] == "true"
    try:
        serve(root, args.socket or root.socket, overrides, api)
    except FabricError as e:
        sys.exit(f"fabric daemon: {e.message}")


def serve(root: HostRoot, sock_path: str, overrides: dict | None = None, api=None) -> None:
    from fabric.daemon import listeners
    from fabric.daemon.http import Handler
    from fabric.daemon.routes import build
    from fabric.engine.engine import Engine
    from fabric.host.api_settings import ApiSettings
    from fabric.network import settings as settingsmod

    api = api or ApiSettings()
    settings = settingsmod.load(root.settings, overrides)
    cluster = None
    if settings.cluster_store:
        from fabric.cluster.connect import connect
        cluster = connect(settings.cluster_store)
    engine = Engine(root.path, cluster=cluster, underlay=settings.cluster_advertise)
    if overrides:
        engine.network.configure(overrides)
    engine.start()
    watch = None
    if cluster is not None:
        import logging

        from fabric.cluster.watch import Watch

        # what the watch does to the kernel, one command a line, in the daemon's log
        for name in ("fabric.network.peering", "fabric.network.remotes"):
            peers_log = logging.getLogger(name)
            peers_log.setLevel(logging.INFO)
            peers_log.addHandler(logging.StreamHandler(sys.stderr))
        shared = engine.network.core.networks.shared
        watch = Watch(cluster, shared.peering, engine.host.name, settings.cluster_advertise,
                      remotes=shared.remotes, names_changed=engine.network.hosts.refresh)
        watch.start()
    router = build(engine, watch)
    handler = type("BoundHandler", (Handler,), {"router": router})
    try:
        # The other listeners first: when one cannot bind, no socket of ours appears.
        extra = listeners.open_extra(api, sock_path, handler)
    except FabricError:
        if watch is not None:
            watch.stop()
        engine.network.stop()
        raise
    server = listeners.bind_unix(sock_path, handler)
    servers = [server, *extra]

    def stop(*_):
        def down():
            for srv in servers:
                srv.shutdown()
        threading.Thread(target=down, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for srv in extra:
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.5},
                         daemon=True).start()
    urls = [f"unix://{sock_path}"] + [_url(srv) for srv in extra]
    print(f"fabric daemon {os.getpid()} serving {' '.join(urls)}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        if watch is not None:
            watch.stop()
        for srv in servers:
            if isinstance(srv, listeners.UnixHTTPServer):
                listeners.unlink_if_ours(srv)
        engine.network.stop()
        # Containers keep running: conmon holds them, not the daemon.
        for srv in servers:
            srv.server_close()


def _url(srv: "UnixHTTPServer | TcpHTTPServer") -> str:
    from fabric.daemon import listeners
    if isinstance(srv, listeners.TcpHTTPServer):
        host, port = srv.socket.getsockname()[:2]
        how = "" if srv.tls is None else " (TLS)"
        return f"tcp://{f'[{host}]' if ':' in host else host}:{port}{how}"
    return f"unix://{srv.path}"


if __name__ == "__main__":
    main()
