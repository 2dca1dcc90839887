#!/usr/bin/env bash
# Train with GPUS processes on this machine: tools/dist_train.sh CONFIG GPUS [train.py arguments...]
# Without GPUs it still works: each process trains on CPU and they synchronise with the gloo backend.
# Set PORT to run several jobs at once (default 29500).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
exec python -m torch.distributed.run --nproc_per_node="$GPUS" --master_port="${PORT:-29500}" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
