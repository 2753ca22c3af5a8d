#!/usr/bin/env bash
# systemd_check.sh BUILD_DIR: the units, installed into a temp prefix (so
# they name its programs), pass `systemd-analyze verify` without a single
# line of output (an unknown key is only a warning there: any output
# fails), their man pages found (Documentation=), and stay within the
# exposure `systemd-analyze security` scores now. No unit is started: the
# dev and CI machines run no systemd (docs/install.md).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=$(cd "$1" && pwd)
command -v systemd-analyze >/dev/null || { fail "no systemd-analyze (deploy/deps.sh installs systemd)"; finish systemd_check; }
tmp=$(mktemp -d /tmp/segq-units-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log"; fail "cmake --install failed"; finish systemd_check; }
units=$prefix/lib/systemd/system
export MANPATH=$prefix/share/man:

# unit: the most exposure allowed (systemd-analyze's 0-100 scale; 1.6 -> 16)
for check in segqd.service:20 segq-worker@.service:40; do
    unit=${check%%:*}
    threshold=${check##*:}
    out=$(systemd-analyze verify --man=yes "$units/$unit" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
        fail "systemd-analyze verify $unit (exit $rc): $out"
    fi
    systemd-analyze security --offline=yes --threshold="$threshold" "$units/$unit" \
        >"$tmp/security.txt" 2>&1 \
        || fail "$unit is more exposed than $threshold: $(tail -1 "$tmp/security.txt")"
    echo "$unit: $(grep 'Overall exposure' "$tmp/security.txt")"
done
finish systemd_check
