#!/usr/bin/env bash
# Train and test StackFLOW and its baselines on the synthetic world with the same schedule and seed, then print
# the comparison table recorded in docs/benchmarks.md. Each training takes 10-25 minutes on 2 CPU cores.
#   bash tools/analysis/run_synthetic_benchmark.sh          # the embedded default (configs/stackflow_synthetic.py)
#   bash tools/analysis/run_synthetic_benchmark.sh paper    # the paper settings (configs/stackflow_synthetic_paper.py)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
EPOCH=${EPOCH:-12}
case "${1:-default}" in
    default) suffix='' ;;
    paper) suffix='_paper' ;;
    *) echo "usage: $0 [default|paper] (got '$1')" >&2; exit 2 ;;
esac
runs=()
for config in stackflow_synthetic baselines/independent_flows_synthetic baselines/regression_head_synthetic \
              baselines/direct_relative_pose_synthetic; do
    name=$(basename "$config")$suffix
    config=$config$suffix
    [ -f "work_dirs/$name/epoch_$EPOCH.pth" ] || python tools/train.py "configs/$config.py"
    python tools/test.py "configs/$config.py" "work_dirs/$name/epoch_$EPOCH.pth"
    runs+=("$name=work_dirs/$name/chamfer_results.json")
done
python tools/test.py "configs/baselines/mean_relation_synthetic$suffix.py" \
    "work_dirs/stackflow_synthetic$suffix/epoch_$EPOCH.pth"
runs+=("mean_relation_synthetic$suffix=work_dirs/mean_relation_synthetic$suffix/chamfer_results.json")
python tools/analysis/compare_results.py "${runs[@]}"
