#!/usr/bin/env bash
# The main job: a two-host lab (labs/two-hosts.yaml: a LAN, a published web page, a
# --link with icc off) brought up, tested (the from-by-to matrix) and left running,
# with how to look around and how to remove it. Run again, it finds the lab up and
# tests it again. Exit status: the test's (0 only if every result was the expected one).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lab=two-hosts
# bold commands on a terminal only: CI logs and files get plain text
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }

say "fabric lab up labs/$lab.yaml"
fabric lab up "$here/labs/$lab.yaml" || exit $?
say "fabric lab status $lab";  fabric lab status "$lab"
say "fabric lab test $lab";    fabric lab test "$lab"; code=$?
cat <<EOT

The lab is still up (.venv/bin on PATH). Look around:
  fabric lab status $lab       hosts, their addresses, containers
  fabric -H $lab.h2 ps         any fabric command, against one of its hosts
  fabric lab exec $lab client -- wget -qO- http://192.168.18.12:8080/
  fabric lab graph $lab -o $lab.svg
Remove it:
  fabric lab down $lab
EOT
exit $code
