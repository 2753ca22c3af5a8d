#!/usr/bin/env bash
# install_check.sh BUILD_DIR: `cmake --install --prefix TMP` puts every
# file where it belongs, and a program built against the installed libsegq
# (pkg-config segq: shared, then static) works against the installed segqd.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/segq-install-XXXXXX)
trap '[ -n "${segqd_pid:-}" ] && kill -9 "$segqd_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log"; fail "cmake --install failed"; finish install_check; }

libdir=$(dirname "$(find "$prefix" -name libsegq.a | head -1)")
[ -d "$libdir" ] || { fail "no libsegq.a installed"; finish install_check; }
expect_file "$prefix"/bin/{segq,segqd,segq-worker} \
    "$libdir"/{libsegq.so,libsegq.so.0,libsegq.a} "$libdir"/pkgconfig/segq.pc \
    "$prefix"/include/segq/{segq_client.h,segq_records.h,segq_schema.h,segq_error.h,segq_sha256.h} \
    "$prefix"/share/man/man1/segq.1.gz \
    "$prefix"/share/man/man5/segqd.conf.5.gz \
    "$prefix"/share/man/man8/{segqd.8.gz,segq-worker.8.gz} \
    "$prefix"/lib/systemd/system/{segqd.service,segq-worker@.service} \
    "$prefix"/etc/segq/{segqd.conf.example,worker.env.example}
if [ -x "$build/pipeline/segq-run" ]; then
    expect_file "$prefix/bin/segq-run" "$prefix/share/man/man1/segq-run.1.gz"
    "$prefix/bin/segq-run" --help >/dev/null 2>&1 || fail "the installed segq-run does not run"
fi
grep -q "^ExecStart=$prefix/bin/segqd " "$prefix/lib/systemd/system/segqd.service" \
    || fail "segqd.service does not run $prefix/bin/segqd"

# the shared library: its SONAME, and only public names exported
soname=$(readelf -d "$libdir/libsegq.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libsegq.so.0 ] || fail "libsegq.so's SONAME is '$soname', not libsegq.so.0"
exported=$(nm -D --defined-only "$libdir/libsegq.so" | awk '$2 ~ /[TDBRVW]/ {sub(/@.*/, "", $3); print $3}')
bad=$(grep -v '^segq_[a-z]' <<<"$exported" || true)
[ -z "$bad" ] || fail "libsegq.so exports more than segq_*: $(head -5 <<<"$bad")"
grep -q '^segq_client_connect$' <<<"$exported" || fail "libsegq.so does not export segq_client_connect"

# every installed header stands alone, from pkg-config's flags only
export PKG_CONFIG_PATH=$libdir/pkgconfig
cflags=$(pkg-config --cflags segq) || fail "pkg-config segq"
for h in "$prefix"/include/segq/*.h; do
    echo "#include <$(basename "$h")>" | cc -std=c11 -Wall -Werror -fsyntax-only $cflags -x c - \
        || fail "$(basename "$h") does not compile on its own"
done

# a program on it, linked both ways, against the installed broker
cc -std=c11 -Wall -Werror -o "$tmp/prog_shared" "$here/libsegq_program.c" \
    $(pkg-config --cflags --libs segq) || fail "building against libsegq.so"
static_libs=$(pkg-config --static --libs-only-l segq | sed 's/-lsegq\b//')
cc -std=c11 -Wall -Werror -o "$tmp/prog_static" "$here/libsegq_program.c" $cflags \
    "$libdir/libsegq.a" $static_libs || fail "building against libsegq.a"
# ldd's output read whole first: under pipefail, `ldd | grep -q` fails
# whenever grep has matched and left before ldd's last line (SIGPIPE)
shared_deps=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/prog_shared")
grep -q "libsegq.so.0 => $libdir/" <<<"$shared_deps" \
    || fail "prog_shared does not load $libdir/libsegq.so.0: $shared_deps"
static_deps=$(ldd "$tmp/prog_static")
! grep -q libsegq <<<"$static_deps" || fail "prog_static loads a libsegq.so: $static_deps"

start_segqd "$prefix/bin/segqd" "$tmp"
if [ -n "$endpoint" ]; then
    LD_LIBRARY_PATH=$libdir "$tmp/prog_shared" "$endpoint" || fail "prog_shared against segqd"
    "$tmp/prog_static" "$endpoint" || fail "prog_static against segqd"
    "$prefix/bin/segq" --broker "$endpoint" --no-keys kinds >/dev/null \
        || fail "the installed segq against segqd"
    stop_segqd
    [ "$failures" -eq 0 ] || { echo "--- segqd's log:"; cat "$tmp/segqd.log"; }
fi
finish install_check
