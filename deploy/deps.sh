#!/usr/bin/env bash
# deploy/deps.sh: install every Debian package segq needs to build, test and
# run. Idempotent and non-interactive: it installs only what is missing, so a
# machine that already has everything pays one dpkg query and nothing else.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # queue: ZeroMQ + CZMQ, msgpack, SQLite
  libzmq3-dev libczmq-dev libmsgpack-dev libsqlite3-dev
  # images, safetensors headers / --json output, charts
  libpng-dev libjpeg62-turbo-dev libjansson-dev libcairo2-dev
  # tests
  libcriterion-dev python3 python3-numpy
  # segqd --http: libmicrohttpd (Debian's has GnuTLS for HTTPS); its tests read
  # /metrics with the Prometheus client's parser, the status page in a headless
  # chromium, and make a test certificate with openssl (tests/http/)
  libmicrohttpd-dev python3-prometheus-client chromium openssl
  # sd_notify in segqd and segq-worker; man pages (scdoc -> roff, checked by
  # groff and man); Debian packages (CPack: file, dpkg-shlibdeps; adduser in
  # their scripts); `systemd-analyze verify` of the units (docs/install.md)
  libsystemd-dev scdoc groff-base man-db file dpkg-dev adduser systemd
  # ML: libtorch (CPU) and a fast BLAS under it; python3-torch is the
  # independent reference the numerical tests compare against
  libtorch-dev libopenblas0-pthread python3-torch
  # the authors' own code, run as the reference by tests/pipeline (their
  # imresize imports scipy and skimage, their style transfer tqdm)
  python3-scipy python3-skimage python3-torchvision python3-tqdm
  # the Python client (python/) and its pytest suite against real daemons
  python3-zmq python3-msgpack python3-pytest python3-pil
  # ... and `pip install ./python`, offline
  python3-pip python3-setuptools python3-wheel
  # ... and Job.wait's progress in a real Jupyter kernel (python/tests/test_jupyter.py)
  python3-ipykernel python3-jupyter-client
  # `segq slurm-scale` against a real one-node Slurm (tests/slurm/cluster.sh
  # starts munged, slurmctld and slurmd itself; the packages' services stay off)
  slurmctld slurmd slurm-client munge
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps.sh: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
