#!/usr/bin/env bash
# The main job: a short tour on a throwaway lab host (a network namespace with its own
# host root and daemon, made by `fabric host add`), removed afterwards. A busybox web
# server is started, listed, reached by name from another container and through a
# published port, its logs shown, stopped and removed, with the kernel commands fabric
# runs shown by --explain.
set -euo pipefail
host="demo-$$"
fabric host add "$host" >/dev/null
cleanup() { fabric host rm "$host" >/dev/null; }
trap cleanup EXIT
fab() { fabric -H "$host" "$@"; }
in_host() { fabric host exec "$host" "$@"; }
# bold commands on a terminal only: CI logs and files get plain text
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }

say "fabric host ls";                 fabric host ls
say "fabric -H $host version";        fab version
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
say "fabric host exec $host wget -qO- http://127.0.0.1:8080/   (from the host, through the published port)"
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
