#!/usr/bin/env bash
# Installs what fabric needs on Debian 12 (idempotent), then runs a job:
#   ./setup.sh demo   the main job: a two-host lab up, tested, left running
#   ./setup.sh test   the whole test suite
#   ./setup.sh        install only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"

apt_packages=(runc conmon nftables libnftables1 iproute2 busybox-static iptables
              python3 python3-venv python3-pip util-linux procps graphviz skopeo openssl
              openvswitch-switch iperf3)
# iperf3: `fabric lab compare` (and the benchmarks) measure throughput with it; its
# daemon is never started (Debian asks, and a non-interactive install says no).
# etcd for labs with `cluster: {store: etcd}` and the cluster store's tests (its system
# service is never started: see policy-rc.d below; fabric runs its own etcd per lab).
apt_packages+=(etcd-server etcd-client)
# The test job also runs a registry and Docker's clients against fabric (no dockerd).
if [ "${1:-}" = test ]; then
    apt_packages+=(docker-registry docker.io docker-compose)
fi
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # fabric needs these packages' programs, not their system services: keep apt from
    # starting dockerd, a registry on :5000 and the like (a policy-rc.d answering 101
    # is Debian's way; systemd's deb-systemd-invoke honours it too).
    policy=/usr/sbin/policy-rc.d ours=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && ours=1
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$ours" ]; then rm -f "$policy"; trap - EXIT; fi
fi

# Debian's own Python: built with PGO and LTO, it starts the CLI a third faster than an
# unoptimised build, and a fresh Debian 12 has it.
py=/usr/bin/python3
stamp="$venv/.fabric-installed"
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
# A regular (not editable) install: the editable finder alone adds 20 ms to every CLI
# call. Reinstall whenever a source file is newer than the last install.
if [ ! -f "$stamp" ] || [ -n "$(find "$here/fabric" "$here/plugins" "$here/pyproject.toml" \
        \( -name '*.py' -o -name '*.toml' -o -name '*.json' \) -newer "$stamp" | head -1)" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check "$here[test]"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"

case "${1:-}" in
    demo) exec "$here/scripts/demo.sh" ;;
    test) shift; cd "$here" && exec "$venv/bin/python" -m pytest -q "$@" ;;
    "") echo "setup: done; run $venv/bin/fabric" ;;
    *) echo "setup: unknown job '$1' (use demo or test)" >&2; exit 2 ;;
esac
