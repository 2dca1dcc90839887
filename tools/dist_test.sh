#!/usr/bin/env bash
# Evaluate with GPUS processes on this machine: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments...]
# Without GPUs it still works (CPU processes, gloo backend). Set PORT to run several jobs at once (default 29500).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
exec python -m torch.distributed.run --nproc_per_node="$GPUS" --master_port="${PORT:-29500}" \
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
