#!/usr/bin/env bash
# Installs what fabric needs on Debian 12 (idempotent), then runs a job:
#   ./setup.sh demo   the main job
#   ./setup.sh test   the whole test suite
#   ./setup.sh        install only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"

apt_packages=(runc conmon nftables libnftables1 iproute2 busybox-static iptables
              python3-venv python3-pip util-linux procps kmod)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py=$(command -v python3)
stamp="$venv/.fabric-installed"
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check -e "$here[test]"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"

case "${1:-}" in
    demo) exec "$here/scripts/demo.sh" ;;
    test) shift; cd "$here" && exec "$venv/bin/python" -m pytest -q "$@" ;;
    "") echo "setup: done; run $venv/bin/fabric" ;;
    *) echo "setup: unknown job '$1' (use demo or test)" >&2; exit 2 ;;
esac
