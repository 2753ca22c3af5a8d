# lib.sh: what the deploy checks share (sourced). fail MESSAGE...: say it
# and count it; the check ends with `finish NAME`.
failures=0
fail () {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
# expect_file PATH...: each exists (a file or a link to one)
expect_file () {
    local f
    for f in "$@"; do
        [ -e "$f" ] || fail "$f is missing"
    done
}
# start_segqd SEGQD DIR [ARGS...]: a broker on a free loopback port with its
# data in DIR/data; sets segqd_pid and endpoint
start_segqd () {
    local segqd=$1 dir=$2
    shift 2
    rm -f "$dir/ready"
    "$segqd" --bind 'tcp://127.0.0.1:*' --data-dir "$dir/data" --ready-file "$dir/ready" "$@" \
        >"$dir/segqd.log" 2>&1 &
    segqd_pid=$!
    local i
    for i in $(seq 300); do
        [ -s "$dir/ready" ] && break
        kill -0 "$segqd_pid" 2>/dev/null || break
        sleep 0.1
    done
    endpoint=$(cat "$dir/ready" 2>/dev/null || true)
    [ -n "$endpoint" ] || { cat "$dir/segqd.log"; fail "segqd did not start"; }
}
# stop_segqd: SIGTERM, and it must exit 0
stop_segqd () {
    kill -TERM "$segqd_pid" 2>/dev/null || true
    local rc=0
    wait "$segqd_pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "segqd exited $rc after SIGTERM"
}
finish () {
    if [ "$failures" -eq 0 ]; then
        echo "$1: all checks passed"
        exit 0
    fi
    echo "$1: $failures check(s) failed"
    exit 1
}
