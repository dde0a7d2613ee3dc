"""`fabric daemon`: serve one host root's engine on its unix socket.

The daemon takes the root's lock before anything else; a second daemon for the same
root (two CLIs racing to start one) finds it held and exits quietly.
"""

import argparse
import fcntl
import os
import signal
import sys
import threading

from fabric.paths import HostRoot, default_root


def main(argv: list[str] | None = None) -> None:
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
                    help="the store the hosts of a cluster share (sqlite:///PATH)")
    ap.add_argument("--cluster-advertise", default=None, metavar="ADDRESS",
                    help="the address other hosts reach this one at")
    args = ap.parse_args(argv)
    root = HostRoot(os.path.abspath(args.root))
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
    from fabric.errors import FabricError
    try:
        serve(root, args.socket or root.socket, overrides)
    except FabricError as e:
        print(f"fabric daemon: {e.message}", file=sys.stderr, flush=True)
        sys.exit(1)


def serve(root: HostRoot, sock_path: str, overrides: dict | None = None) -> None:
    from fabric.daemon.http import Handler, UnixHTTPServer
    from fabric.daemon.routes import build
    from fabric.engine.engine import Engine
    from fabric.network import settings as settingsmod

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
        peers_log = logging.getLogger("fabric.network.peering")
        peers_log.setLevel(logging.INFO)
        peers_log.addHandler(logging.StreamHandler(sys.stderr))
        watch = Watch(cluster, engine.network.core.networks.shared.peering, engine.host.name,
                      settings.cluster_advertise)
        watch.start()
    router = build(engine)
    handler = type("BoundHandler", (Handler,), {"router": router})
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    # Bind under a temporary name and rename, so a client never sees a socket that
    # does not accept yet.
    tmp = sock_path + f".{os.getpid()}"
    server = UnixHTTPServer(tmp, handler, bind_and_activate=False)
    server.server_bind()
    server.server_activate()
    os.chmod(tmp, 0o660)
    os.rename(tmp, sock_path)
    server.server_address = sock_path

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fabric daemon {os.getpid()} serving unix://{sock_path}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        try:
            if os.path.exists(sock_path) and os.stat(sock_path).st_ino == os.fstat(
                    server.socket.fileno()).st_ino:
                os.unlink(sock_path)
        except OSError:
            pass
        if watch is not None:
            watch.stop()
        engine.network.stop()
        # Containers keep running: conmon holds them, not the daemon.
        server.server_close()


if __name__ == "__main__":
    main()
