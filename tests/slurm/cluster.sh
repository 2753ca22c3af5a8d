#!/bin/bash
# tests/slurm/cluster.sh: a single-node Slurm cluster for tests, in a folder.
#
#   cluster.sh start DIR [OWNER_PID]   munged, slurmctld and slurmd on loopback; waits
#                                      until the node is idle; prints DIR/slurm.conf
#   cluster.sh stop DIR                cancels every job, stops the daemons, kills what
#                                      is left of them and of the jobs
#
# Everything lives in DIR: munge's key and socket, slurm.conf and gres.conf,
# the state and spool folders, the logs. Four fake GPUs are GRES gpu with
# File= links to /dev/null: Slurm wants a character device there (with plain
# files it logs "not a valid character or block device" and sets no
# CUDA_VISIBLE_DEVICES), and only the file's type and number matter without
# cgroups. The daemons run as root (as CI does), without cgroups
# (proctrack/linuxproc, task/none: a container has none to give), on ports
# the kernel found free. The commands find the cluster through
# SLURM_CONF=DIR/slurm.conf; slurm.conf's AuthInfo names munge's socket.
#
# With OWNER_PID, a watcher stops the cluster once that process is gone (a
# test killed by its timeout leaves nothing running). `stop` kills, by
# pid, every process whose environment (as exec'd: /proc/PID/environ)
# names this cluster's slurm.conf (the daemons, the watcher, slurmstepd,
# the jobs, which inherit the submitter's), except itself and its
# ancestors.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }

need() {
  for program in munged slurmctld slurmd sbatch squeue scancel sinfo python3; do
    command -v "$program" >/dev/null ||
      die "$program not found: install slurm-wlm and munge (deploy/deps.sh does)"
  done
  [ "$(id -u)" -eq 0 ] || die "slurmd runs jobs as their users: run the Slurm test as root"
}

free_ports() {
  python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

write_conf() {
  local dir=$1 ctld_port=$2 slurmd_port=$3
  cat >"$dir/slurm.conf" <<EOF
ClusterName=segqtest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=5
InactiveLimit=0
MinJobAge=300
NodeName=segqnode NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=8 RealMemory=4000 Gres=gpu:4 State=UNKNOWN
PartitionName=segq Nodes=segqnode Default=YES MaxTime=INFINITE State=UP
EOF
  for i in 0 1 2 3; do ln -sf /dev/null "$dir/gpu/nvidia$i"; done
  echo "NodeName=segqnode Name=gpu File=$dir/gpu/nvidia[0-3]" >"$dir/gres.conf"
}

# Waits up to $1 s for `sinfo` to show the node idle.
wait_idle() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(sinfo -h -n segqnode -o %T 2>/dev/null)" = idle ] && return 0
    sleep 0.2
  done
  return 1
}

start() {
  local dir=$1 owner=${2:-}
  need
  mkdir -p "$dir"/{state,spool,log,gpu}
  mkdir -m 700 -p "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  read -r ctld_port slurmd_port < <(free_ports)
  write_conf "$dir" "$ctld_port" "$slurmd_port"
  export SLURM_CONF=$dir/slurm.conf # also what marks this cluster's processes
  # -f: munged refuses root-owned folders it cannot vouch for otherwise
  munged -f --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" || die "munged did not start: $(tail -5 "$dir/log/munged.log")"
  slurmctld -i || die "slurmctld did not start: $(tail -20 "$dir/log/slurmctld.log")"
  slurmd -N segqnode || die "slurmd did not start: $(tail -20 "$dir/log/slurmd.log")"
  if [ -n "$owner" ]; then
    # A process of its own (exec'd, so its environment names the cluster and
    # `stop` finds it); not a wait for a condition: it polls its owner.
    nohup bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec bash "$2" stop "$3"' \
      cluster-watcher "$owner" "$0" "$dir" >/dev/null 2>&1 </dev/null &
  fi
  if ! wait_idle 60; then
    tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2
    bash "$0" stop "$dir"
    die "the node never became idle (sinfo: $(sinfo -h -o '%T %E' 2>&1))"
  fi
  echo "$SLURM_CONF"
}

# Pids of processes whose environment names this cluster, but for this
# script and its ancestors.
cluster_pids() {
  local conf=$1 mine=" " p=$$
  while [ "$p" -gt 1 ]; do
    mine+="$p "
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || echo 1)
  done
  for env in /proc/[0-9]*/environ; do
    p=${env#/proc/}; p=${p%/environ}
    [[ $mine == *" $p "* ]] && continue
    grep -qxzF "SLURM_CONF=$conf" "$env" 2>/dev/null && echo "$p"
  done
  return 0
}

stop() {
  local dir=$1
  export SLURM_CONF=$dir/slurm.conf
  [ -f "$SLURM_CONF" ] || return 0
  # bounded: with slurmctld gone they would retry for minutes
  timeout 10 scancel --quiet --user=root 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while [ $SECONDS -lt $deadline ] && [ -n "$(timeout 5 squeue -h -o %i 2>/dev/null)" ]; do
    sleep 0.2
  done
  # munged and the Slurm daemons were started with SLURM_CONF exported, the
  # watcher too; slurmstepd inherits slurmd's, the jobs the submitter's
  for p in $(cluster_pids "$SLURM_CONF"); do kill -TERM "$p" 2>/dev/null || true; done
  deadline=$((SECONDS + 5))
  while [ $SECONDS -lt $deadline ] && [ -n "$(cluster_pids "$SLURM_CONF")" ]; do sleep 0.2; done
  for p in $(cluster_pids "$SLURM_CONF"); do kill -KILL "$p" 2>/dev/null || true; done
  return 0
}

case "${1:-}" in
  start) [ $# -ge 2 ] || die "usage: cluster.sh start DIR [OWNER_PID]"; start "$2" "${3:-}" ;;
  stop) [ $# -ge 2 ] || die "usage: cluster.sh stop DIR"; stop "$2" ;;
  *) die "usage: cluster.sh start DIR [OWNER_PID] | stop DIR" ;;
esac
