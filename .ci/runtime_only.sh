#!/usr/bin/env bash
# The README's first command, in an environment with the runtime requirements only (`pip install torch==2.13.0 -e .`,
# no test extra), on a tiny synthetic world: generation -> annotation cache -> offset PCA -> one training epoch ->
# the test table, then the demo on a generated test image, the sequence path (tiny 30 fps set: test --refine with
# smoothing, the video demo) and --help of every documented tool (their imports).
# A module that only the tests' requirements bring in (rtree, say) fails here, as it would for a new user.
# (two objects, so that every test object has training samples for the offset PCA)
# Usage: bash .ci/runtime_only.sh [VENV_DIR]   (run from anywhere; about 3 min on 2 cores)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${1:-.venv-runtime}

python3 -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
pip install -q torch==2.13.0 -e .
export PYOPENGL_PLATFORM=egl

python - <<'EOF'
import importlib.util
test_only = [name for name in ('pytest', 'xdist', 'rtree') if importlib.util.find_spec(name) is not None]
assert not test_only, f'the runtime-only environment has test-only modules: {test_only}'
print('runtime-only environment: no pytest, pytest-xdist or rtree')
EOF

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
WORLD="$TMP/behave_synthetic"
WORK="$TMP/work"
OPTIONS=(model.relation_encoder.pca_file="$WORLD/relation_pca.npz"
         val_evaluator.object_library.template_dir="$WORLD/objects"
         test_evaluator.object_library.template_dir="$WORLD/objects"
         val_evaluator.num_samples=2000 test_evaluator.num_samples=2000
         train_cfg.max_epochs=1 train_cfg.val_interval=1 default_hooks.logger.interval=2
         train_dataloader.batch_size=8 val_dataloader.batch_size=8 test_dataloader.batch_size=8)
for loader in train_dataloader val_dataloader test_dataloader; do
  OPTIONS+=("$loader.dataset.data_root=$WORLD" "$loader.dataset.synthetic.num_sequences=6"
            "$loader.dataset.synthetic.frames_per_sequence=2" "$loader.dataset.synthetic.image_size=(256,192)"
            "$loader.dataset.synthetic.objects=[stool,boxmedium]")
done

echo "== tools/train.py configs/stackflow_synthetic.py on a tiny world (runtime-only install)"
python tools/train.py configs/stackflow_synthetic.py --work-dir "$WORK" --cfg-options "${OPTIONS[@]}"
test -f "$WORLD/relation_pca.npz" && test -f "$WORK/epoch_1.pth"

echo "== tools/test.py --refine"
python tools/test.py configs/stackflow_synthetic.py "$WORK/epoch_1.pth" --work-dir "$WORK/test" --refine \
  --cfg-options "${OPTIONS[@]}" refiner.steps_per_stage=5 | tee "$TMP/test.log"
grep -q 'hoi_chamfer/object_hoi' "$TMP/test.log"

echo "== tools/demo.py on a generated test image"
FRAME=$(python - "$WORLD" <<'EOF'
import json, os, sys
root = sys.argv[1]
sequence = json.load(open(os.path.join(root, 'split.json')))['test'][0]
frame = sorted(f for f in os.listdir(os.path.join(root, 'sequences', sequence)) if f.startswith('t'))[0]
print(f'{sequence}/{frame}')
EOF
)
S="$WORLD/sequences/$FRAME"
OBJECT=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['cat'])" "$(dirname "$S")/info.json")
python tools/demo.py "$S/k1.color.jpg" --config configs/stackflow_synthetic.py --checkpoint "$WORK/epoch_1.pth" \
  --object "$OBJECT" --person-mask "$S/k1.person_mask.jpg" --object-mask "$S/k1.obj_rend_mask.jpg" \
  --keypoints "$S/k1.color.json" --correspondences "$WORLD/epro_pnp/$FRAME/k1.obj_coor.pkl" \
  --calibration "$WORLD/calibs/intrinsics/1/calibration.json" --hypotheses 2 --refine --out "$TMP/demo" \
  --cfg-options "${OPTIONS[@]}" refiner.steps_per_stage=5
test -f "$TMP/demo/summary.png" && test -f "$TMP/demo/scene.glb"

echo "== sequences: tiny synthetic 30 fps set, tools/test.py --refine with smoothing, tools/demo_video.py --smooth"
SEQ="$TMP/behave_extended_synthetic"
python tools/make_synthetic_sequences.py --out "$SEQ" --num-sequences 2 --frames-per-sequence 8 --image-size 256 192 \
  --kinects 0 --objects stool boxmedium --no-split-pair --test-fraction 0.5 --workers 1 > /dev/null
SEQ_OPTIONS=(model.relation_encoder.pca_file="$WORLD/relation_pca.npz" test_dataloader.dataset.data_root="$SEQ"
             test_dataloader.batch_size=4 refiner.steps_per_stage=5 sequence_refiner.steps_per_stage=5
             sequence_refiner.show_progress=False
             test_evaluator.0.object_library.template_dir="$SEQ/objects" test_evaluator.0.num_samples=2000
             test_evaluator.1.object_library.template_dir="$SEQ/objects" test_evaluator.1.num_samples=2000)
python tools/test.py configs/stackflow_synthetic_sequences.py "$WORK/epoch_1.pth" --work-dir "$WORK/seq" --refine \
  --cfg-options "${SEQ_OPTIONS[@]}" | tee "$TMP/seq.log"
grep -q 'hoi_seq_w10_frame/object_hoi' "$TMP/seq.log"
SEQ_NAME=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['test'][0])" "$SEQ/split.json")
python tools/demo_video.py --sequence-root "$SEQ" --sequence "$SEQ_NAME" --kinect 0 \
  --config configs/stackflow_synthetic_sequences.py --checkpoint "$WORK/epoch_1.pth" --smooth --out "$TMP/video" \
  --cfg-options "${SEQ_OPTIONS[@]}"
test -f "$TMP/video/parameters.json" && { test -f "$TMP/video/video.mp4" || test -f "$TMP/video/video.gif"; }

echo "== --help of the documented tools"
for tool in train test demo evaluate_meshes make_synthetic_dataset fit_relation_pca make_surrogate_body \
            analysis/benchmark_model analysis/profile_training analysis/compare_results misc/list_components \
            misc/print_config make_synthetic_sequences demo_video dataset_converters/behave \
            analysis/benchmark_sequence_refiner analysis/benchmark_refiner benchmark render_augmentation \
            model_converters/stackflow_to_hoirecon analysis/evaluate_correspondences; do
  python "tools/$tool.py" --help > /dev/null
done
deactivate
echo "runtime-only check passed"
