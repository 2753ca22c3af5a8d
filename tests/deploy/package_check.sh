#!/usr/bin/env bash
# package_check.sh BUILD_DIR: the Debian packages, as a lab would get them.
# Builds them (cpack in BUILD_DIR: BUILD_DIR/packages/), installs them with
# apt-get on this machine, checks the programs, the segq system user, its
# 0700 state folders, the man pages, the units and libsegq from /usr, runs
# the packaged segqd as the segq user on /var/lib/segq, then purges them
# and checks that the user and the folders are gone. Root (or sudo): CI is
# a throwaway Debian 12 machine. It refuses to run where segq is installed
# or a segq user exists already: it would purge them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=$(cd "$1" && pwd)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
packages=(segq segqd segq-worker)
apt_get () {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"
}
installed () {
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^[ic]'
}

for p in "${packages[@]}"; do
    if installed "$p"; then
        fail "package $p is installed already: this check would purge it (apt-get purge it first)"
    fi
done
getent passwd segq >/dev/null && fail "a segq user exists already: this check would delete it"
[ "$failures" -eq 0 ] || finish package_check

start=$(date +%s)
(cd "$build" && cpack -G DEB >"$build/packages.log" 2>&1) \
    || { tail -20 "$build/packages.log"; fail "cpack failed"; finish package_check; }
debs=()
for p in "${packages[@]}"; do
    deb=$(ls "$build"/packages/"${p}"_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] && debs+=("$deb") || fail "no ${p}_*.deb in $build/packages"
done
echo "package_check: ${debs[*]##*/} built in $(($(date +%s) - start)) s"
dpkg-deb -f "$build"/packages/segq-worker_*.deb Depends | grep -q libtorch \
    || [ ! -x "$build/pipeline/segq-run" ] || fail "segq-worker does not depend on libtorch"

tmp=$(mktemp -d /tmp/segq-package-XXXXXX)
chmod 755 "$tmp"
purge () {
    apt_get purge "${packages[@]}" >"$tmp/purge.log" 2>&1
}
trap '[ -n "${segqd_pid:-}" ] && $SUDO kill -9 "$segqd_pid" 2>/dev/null; purge; rm -rf "$tmp"' EXIT

start=$(date +%s)
apt_get install "${debs[@]}" >"$tmp/install.log" 2>&1 \
    || { tail -20 "$tmp/install.log"; fail "apt-get install failed"; finish package_check; }
echo "package_check: installed in $(($(date +%s) - start)) s"

for prog in segq segqd segq-worker; do
    "/usr/bin/$prog" --help >/dev/null || fail "/usr/bin/$prog --help"
done
[ ! -x "$build/pipeline/segq-run" ] || /usr/bin/segq-run --help >/dev/null \
    || fail "/usr/bin/segq-run --help"

# the system user and its private folders
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd segq)
[ -n "${uid:-}" ] || fail "no segq user"
[ "${uid:-1000}" -lt 1000 ] || fail "segq is not a system user (uid $uid)"
[ "${home:-}" = /var/lib/segq ] || fail "segq's home is '${home:-}', not /var/lib/segq"
[ "${shell:-}" = /usr/sbin/nologin ] || fail "segq's shell is '${shell:-}'"
getent group segq >/dev/null || fail "no segq group"
for dir in /var/lib/segq /var/lib/segq-worker; do
    [ "$(stat -c '%a %U %G' "$dir" 2>/dev/null)" = "700 segq segq" ] \
        || fail "$dir is '$(stat -c '%a %U %G' "$dir" 2>&1)', not 700 segq segq"
done

# man pages, units, configuration examples, libsegq
verify_man=yes
if grep -rqsE 'path-exclude *=? */usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
    # a minimal image's dpkg drops man pages on install: look in the packages
    verify_man=no
    echo "package_check: dpkg excludes /usr/share/man here: man pages looked for in the .debs"
    contents=$(for deb in "${debs[@]}"; do dpkg-deb -c "$deb"; done)
    for page in man1/segq.1 man1/segq-run.1 man8/segqd.8 man5/segqd.conf.5 man8/segq-worker.8; do
        grep -q "usr/share/man/$page.gz" <<<"$contents" || fail "no $page.gz in the packages"
    done
else
    for page in segq segq-run segqd segqd.conf segq-worker; do
        path=$(man -w "$page" 2>/dev/null) || { fail "man $page: not installed"; continue; }
        out=$(MANWIDTH=80 man --warnings -l "$path" 2>&1 >/dev/null)
        [ -z "$out" ] || fail "man $page: $out"
    done
fi
expect_file /etc/segq/segqd.conf.example /etc/segq/worker.env.example \
    /usr/lib/systemd/system/segqd.service /usr/lib/systemd/system/segq-worker@.service
grep -q '^ExecStart=/usr/bin/segqd ' /usr/lib/systemd/system/segqd.service \
    || fail "segqd.service does not run /usr/bin/segqd"
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify --man=$verify_man /usr/lib/systemd/system/segqd.service \
        /usr/lib/systemd/system/segq-worker@.service 2>&1) || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
fi
cc -std=c11 -Wall -Werror -o "$tmp/prog" "$here/libsegq_program.c" $(pkg-config --cflags --libs segq) \
    || fail "building against the packaged libsegq"

# the packaged broker as the unit runs it: user segq, data in /var/lib/segq
ready=/var/lib/segq/ready
$SUDO setpriv --reuid=segq --regid=segq --init-groups -- env XDG_CONFIG_HOME=/etc \
    /usr/bin/segqd --data-dir /var/lib/segq \
    --bind 'tcp://127.0.0.1:*' --ready-file "$ready" >"$tmp/segqd.log" 2>&1 &
segqd_pid=$!
for _ in $(seq 300); do
    $SUDO test -s "$ready" && break
    kill -0 "$segqd_pid" 2>/dev/null || break
    sleep 0.1
done
endpoint=$($SUDO cat "$ready" 2>/dev/null)
if [ -n "$endpoint" ]; then
    "$tmp/prog" "$endpoint" || fail "a program on the packaged libsegq against the packaged segqd"
    segq --broker "$endpoint" --no-keys kinds >/dev/null || fail "segq kinds"
    loose=$($SUDO find /var/lib/segq \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \) \
        -o ! -user segq)
    [ -z "$loose" ] || fail "not private to segq in /var/lib/segq: $loose"
    $SUDO kill -TERM "$segqd_pid"
    rc=0
    wait "$segqd_pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "segqd exited $rc after SIGTERM"
else
    cat "$tmp/segqd.log"
    fail "the packaged segqd did not start as the segq user"
fi
segqd_pid=

start=$(date +%s)
purge || { tail -20 "$tmp/purge.log"; fail "apt-get purge failed"; }
echo "package_check: purged in $(($(date +%s) - start)) s"
for p in "${packages[@]}"; do
    ! installed "$p" || fail "$p is still installed after the purge"
done
! getent passwd segq >/dev/null || fail "the segq user is left after the purge"
! getent group segq >/dev/null || fail "the segq group is left after the purge"
for path in /var/lib/segq /var/lib/segq-worker /usr/bin/segqd /etc/segq; do
    [ ! -e "$path" ] || fail "$path is left after the purge"
done
finish package_check
