#!/usr/bin/env bash
# The README's demo: a fresh home allocation in a temp folder, a scratch allocation, a
# project with a job script, and that job run for real on the local backend.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
qdo() { node "$here/dist/qdo.cjs" "$@"; }
export QDO_HOME=${QDO_DEMO_HOME:-$(mktemp -d /tmp/qdo-demo-XXXXXX)}
scratch="$QDO_HOME/scratch"
mkdir -p "$scratch"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say qdo init "$scratch";                  qdo init "$scratch"
say qdo project add paper/run --alloc "$scratch"; qdo project add paper/run --alloc "$scratch"
cat > "$QDO_HOME/train.sh" <<'SCRIPT'
#!/bin/bash
# {{ job.project }}/{{ job.name }} version {{ job.version }}, {{ resources.cpus }} cpu(s)
echo "training with lr={{ lr }} on $(hostname), job $QDO_JOB_ID"
for epoch in $(seq 1 {{ epochs }}); do sleep 0.3; echo "epoch $epoch loss 0.$((9 - epoch))"; done
SCRIPT
say qdo resource add paper/run train.sh;  (cd "$QDO_HOME" && qdo resource add paper/run train.sh)
say qdo alloc list;                       qdo alloc list
say qdo sched detect --for local;         qdo sched detect --for local
export QDO_SCHEDULER=local
say qdo submit paper/run/train --script train.sh --set lr=0.01 --set epochs=3 --cpus 1 --time 5m
qdo submit paper/run/train --script train.sh --set lr=0.01 --set epochs=3 --cpus 1 --time 5m
say qdo wait paper/run/train;             qdo wait paper/run/train --timeout 2m
say qdo logs paper/run/train;             qdo logs paper/run/train
say qdo submit paper/run/train --set lr=0.02 --time 10m   "# a new version, same template"
qdo submit paper/run/train --set lr=0.02 --time 10m
say qdo submit paper/run/broken -- false; qdo submit paper/run/broken -- false
say qdo wait paper/run/train paper/run/broken; qdo wait paper/run/train paper/run/broken --timeout 2m || echo "(exit $?: one job failed, as intended)"
say qdo status --all-versions;            qdo status --all-versions
say qdo log paper/run/train;              qdo log paper/run/train
say qdo diff paper/run/train@1 paper/run/train; qdo diff paper/run/train@1 paper/run/train
say qdo show paper/run/train;             qdo show paper/run/train
cd "$scratch/paper/run"
say 'cd "$(qdo path train)" && ls';       (cd "$(qdo path train)" && ls)
say qdo fsck;                             qdo fsck && echo "fsck: clean"
state=$(qdo status --json paper/run/train | grep -o '"state": "[a-z-]*"' | head -1)
case "$state" in *completed*) ;; *) echo "demo job did not complete: $state" >&2; exit 1;; esac
echo
echo "demo home: $QDO_HOME"
