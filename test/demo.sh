#!/usr/bin/env bash
# The README's demo: a fresh home allocation in a temp folder, a scratch allocation, a
# project with a job script template, and a job run on the local backend.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
qdo() { node "$here/dist/qdo.mjs" "$@"; }
export QDO_HOME=${QDO_DEMO_HOME:-$(mktemp -d /tmp/qdo-demo-XXXXXX)}
scratch="$QDO_HOME/scratch"
mkdir -p "$scratch"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say qdo init "$scratch";                  qdo init "$scratch"
say qdo project add paper/run --alloc "$scratch"; qdo project add paper/run --alloc "$scratch"
cat > "$QDO_HOME/train.sh" <<'TPL'
#!/bin/bash
echo "training {{ params.model }} with lr={{ params.lr }} on $(hostname)"
sleep 1
echo "loss: 0.{{ params.lr | replace('.', '') }}"
TPL
say qdo resource add paper/run train.sh;  (cd "$QDO_HOME" && qdo resource add paper/run train.sh)
say qdo resource list;                    qdo resource list
say qdo alloc list;                       qdo alloc list
say qdo project list;                     qdo project list
say qdo fsck;                             qdo fsck && echo "fsck: clean"
echo
echo "demo home: $QDO_HOME"
