#!/usr/bin/env bash
# man_check.sh BUILD_DIR: every man page (man/*.scd) was made into roff by
# the build, and renders without a single warning, by groff (-ww: all of
# them) and by man itself. Any output fails.
set -euo pipefail
build=$1
src=${SEGQ_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fail=0
n=0
for scd in "$src"/man/*.scd; do
    page=$(basename "$scd" .scd)
    roff=$build/man/$page
    if [ ! -s "$roff" ]; then
        echo "man_check: $roff was not made from $scd (scdoc missing? run deploy/deps.sh)"
        fail=1
        continue
    fi
    groff_out=$( { groff -ww -z -man "$roff" 2>&1; } || echo "groff failed")
    man_out=$( { MANWIDTH=80 man --warnings -l "$roff" 2>&1 >/dev/null; } || echo "man failed")
    if [ -n "$groff_out$man_out" ]; then
        echo "man_check: $page:"
        printf '%s\n' "$groff_out" "$man_out" | sed '/^$/d'
        fail=1
    fi
    n=$((n + 1))
done
[ "$n" -ge 5 ] || { echo "man_check: only $n pages"; fail=1; }
if [ "$fail" -eq 0 ]; then
    echo "man_check: $n pages render without warnings"
fi
exit "$fail"
