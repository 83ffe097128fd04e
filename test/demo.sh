#!/usr/bin/env bash
# The README's demo: a fresh home allocation in a temp folder, a scratch allocation, a
# project with a job script, and that job run for real on the local backend.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
qdo() { node "$here/dist/qdo.mjs" "$@"; }
export QDO_HOME=${QDO_DEMO_HOME:-$(mktemp -d /tmp/qdo-demo-XXXXXX)}
scratch="$QDO_HOME/scratch"
mkdir -p "$scratch"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say qdo init "$scratch";                  qdo init "$scratch"
say qdo project add paper/run --alloc "$scratch"; qdo project add paper/run --alloc "$scratch"
cat > "$QDO_HOME/train.sh" <<'SCRIPT'
#!/bin/bash
echo "training with lr=$QDO_PARAM_lr on $(hostname), job $QDO_JOB_ID, $QDO_NCPUS cpu(s)"
for epoch in 1 2 3; do sleep 0.3; echo "epoch $epoch loss 0.$((9 - epoch))"; done
SCRIPT
say qdo resource add paper/run train.sh;  (cd "$QDO_HOME" && qdo resource add paper/run train.sh)
say qdo resource list;                    qdo resource list
say qdo alloc list;                       qdo alloc list
say qdo sched detect --for local;         qdo sched detect --for local
cd "$scratch/paper/run"
say qdo sched submit --for local --script resources/train.sh --set lr=0.01 --cpus 1 --time 5m
id=$(qdo sched submit --for local --script resources/train.sh --set lr=0.01 --cpus 1 --time 5m)
echo "$id"
say qdo sched query --for local "$id"
for _ in $(seq 1 100); do
  line=$(qdo sched query --for local "$id")
  case "$line" in *" completed "*|*" failed "*) break;; esac
  sleep 0.2
done
echo "$line"
say cat qdo-runs/train/stdout;            cat qdo-runs/train/stdout
say qdo fsck;                             qdo fsck && echo "fsck: clean"
case "$line" in *" completed "*) ;; *) echo "demo job did not complete" >&2; exit 1;; esac
echo
echo "demo home: $QDO_HOME"
