#!/usr/bin/env bash
# The main job: a short tour on a throwaway lab host (a network namespace with its own
# host root and daemon), removed afterwards. A busybox web server is started, listed,
# reached by name from another container and through a published port, its logs shown,
# stopped and removed, with the kernel commands fabric runs shown by --explain.
set -euo pipefail
tag="demo$$"
ns="fab-$tag"
export FABRIC_ROOT="/var/lib/fabric-demo/$tag"
ip netns add "$ns"
ip -n "$ns" link set lo up
in_host() { nsenter --net="/run/netns/$ns" "$@"; }
fab() { in_host fabric "$@"; }
# bold commands on a terminal only: CI logs and files get plain text
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
cleanup() {
    set +e
    ids=$(ls "$FABRIC_ROOT/containers" 2>/dev/null)
    [ -n "$ids" ] && fab rm -f -v $ids >/dev/null 2>&1
    fab network rm demo-net >/dev/null 2>&1
    [ -f "$FABRIC_ROOT/daemon.lock" ] && kill "$(cat "$FABRIC_ROOT/daemon.lock")" 2>/dev/null
    sleep 0.3
    ip netns del "$ns"
    rm -rf "$FABRIC_ROOT"
    rmdir /var/lib/fabric-demo 2>/dev/null
}
trap cleanup EXIT

say "fabric version";                 fab version
say "fabric network create demo-net --subnet 10.123.0.0/24 --explain"
fab network create demo-net --subnet 10.123.0.0/24 --explain
say "fabric run -d --name web --network demo-net -p 8080:80 busybox httpd ..."
fab run -d --name web --network demo-net -p 8080:80 busybox sh -c \
    'echo "<h1>hello from fabric</h1>" > /var/www/index.html; echo serving on :80; exec httpd -f -v -p 80 -h /var/www'
fab exec web sh -c 'for i in $(seq 50); do wget -qO /dev/null http://127.0.0.1/ && exit 0; sleep 0.1; done'
say "fabric ps";                      fab ps
say "fabric port web";                fab port web
say "fabric run --rm --network demo-net busybox wget -qO- http://web/   (by name)"
fab run --rm --network demo-net busybox wget -qO- http://web/
say "wget -qO- http://127.0.0.1:8080/   (from the host, through the published port)"
in_host busybox wget -qO- http://127.0.0.1:8080/
say "fabric run --rm --network demo-net busybox ping -c 2 web"
fab run --rm --network demo-net busybox ping -c 2 web
say "fabric logs web";                fab logs web
say "fabric inspect -f '{{.State.Status}} {{.NetworkSettings.Networks}}' web"
fab inspect -f '{{.State.Status}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}{{end}}' web
say "fabric stop -t 1 web";           fab stop -t 1 web
say "fabric ps -a";                   fab ps -a
say "fabric rm web";                  fab rm web
say "fabric network rm demo-net";     fab network rm demo-net
say "fabric ps -a";                   fab ps -a
echo
echo "demo: done"
