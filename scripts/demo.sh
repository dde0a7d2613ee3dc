#!/usr/bin/env bash
# The main job: a busybox web server container started, listed, asked for a page,
# its logs shown, stopped and removed. Uses its own host root, removed afterwards.
set -euo pipefail
export FABRIC_ROOT="${FABRIC_ROOT:-/var/lib/fabric-demo}"
name="demo-web-$$"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
cleanup() {
    fabric rm -f "$name" >/dev/null 2>&1 || true
    if [ -f "$FABRIC_ROOT/daemon.lock" ]; then
        kill "$(cat "$FABRIC_ROOT/daemon.lock")" 2>/dev/null || true
    fi
}
trap cleanup EXIT

say fabric version
say fabric run -d --name "$name" busybox sh -c \
    'echo "<h1>hello from fabric</h1>" > /var/www/index.html; echo serving on :80; exec httpd -f -v -p 80 -h /var/www'
say fabric ps
say fabric exec "$name" wget -qO- http://127.0.0.1/
say fabric logs "$name"
say fabric inspect -f '{{.State.Status}} pid={{.State.Pid}} netns={{.NetworkSettings.SandboxKey}}' "$name"
say fabric stop -t 1 "$name"
say fabric ps -a --filter "name=$name"
say fabric rm "$name"
say fabric ps -a
echo
echo "demo: done"
