#!/usr/bin/env bash
# Copied from shared/cluster (the project keeps its own copy so it runs anywhere).
# Stop what slurm-up.sh started: cancel jobs, stop slurmctld+slurmd (+slurmdbd, mariadb), munged.
# Env: SLURMBOX=/tmp/slurmbox; SLURMBOX_WIPE=1 also deletes job state and logs.
set -uo pipefail
BOX=${SLURMBOX:-/tmp/slurmbox}
T0=$(date +%s.%N)
log() { printf '[slurm-down %6.2fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN{print a-b}')" "$*"; }
running() { [ -n "$1" ] && [ -e "/proc/$1" ] && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }  # zombies count as dead
pid_of() { local p; p=$(cat "$1" 2>/dev/null) && running "$p" && echo "$p"; }
stop_pid() { # pid name [send-TERM-now]: wait for exit, TERM after 5s, KILL after 14s
  local pid=$1 i; [ -n "$pid" ] || return 0
  [ "${3:-}" = term ] && kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 150); do
    running "$pid" || { log "$2 stopped"; return 0; }
    [ "$i" = 50 ] && kill -TERM "$pid" 2>/dev/null; [ "$i" = 140 ] && kill -KILL "$pid" 2>/dev/null
    sleep 0.1
  done
}
# capture pids first: daemons delete their pid files while exiting
CTLD=$(pid_of "$BOX/run/slurmctld.pid"); SLURMD=$(pid_of "$BOX/run/slurmd.pid")
DBD=$(pid_of "$BOX/run/slurmdbd.pid"); MUNGED=$(pid_of /run/munge/munged.pid)

if [ -n "$CTLD" ]; then
  ids=$(squeue -h -o '%A' 2>/dev/null | sort -u)   # pending/running jobs
  if [ -n "$ids" ]; then
    scancel $ids 2>/dev/null || true
    for _ in $(seq 1 100); do [ -z "$(squeue -h -t R,CG,S -o %A 2>/dev/null)" ] && break; sleep 0.1; done
    log "cancelled jobs: $(echo $ids)"
  fi
  scontrol shutdown >/dev/null 2>&1 || true        # asks slurmctld and slurmd to exit
fi
stop_pid "$CTLD" slurmctld
stop_pid "$SLURMD" slurmd
stop_pid "$DBD" slurmdbd term
if [ -e "$BOX/run/mariadb.started-by-slurmbox" ]; then
  mariadb-admin shutdown 2>/dev/null && log "mariadb stopped"
  rm -f "$BOX/run/mariadb.started-by-slurmbox"
fi
stop_pid "$MUNGED" munged term
rm -f "$BOX/run/slurmctld.pid" "$BOX/run/slurmd.pid" "$BOX/run/slurmdbd.pid"
if [ "${SLURMBOX_WIPE:-0}" = 1 ]; then rm -rf "$BOX/state" "$BOX/log" "$BOX/run"; log "state wiped"; fi
log "down"
