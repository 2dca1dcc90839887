"""The two evaluation scripts: scoring mesh folders and the benchmark (tiny sizes)."""
import json
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import trimesh

from hoirecon.evaluation.functional import evaluate_hoi_frames

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run_tool(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_evaluate_meshes_scores_folders(tmp_path):
    rng = np.random.default_rng(0)
    body, box = trimesh.creation.icosphere(subdivisions=2), trimesh.creation.box()
    all_keys = ('Date01_Sub01_boxlarge/t0001.000/k1', 'Date01_Sub01_chairwood/t0002.000/k1', 'Date02_Sub02_stool/t3/k0')
    for key in all_keys:
        gt_h = np.asarray(body.vertices) * [0.25, 0.8, 0.15] + [0, 0, 2.5]
        gt_o = np.asarray(box.vertices) * 0.3 + [0.4, 0.2, 2.5]
        pred_h, pred_o = gt_h + rng.normal(scale=0.02, size=gt_h.shape), gt_o + [0.05, 0, 0]
        for folder, human, obj in (('gt', gt_h, gt_o), ('pred', pred_h, pred_o)):
            if folder == 'pred' and key.startswith('Date02'):
                continue  # a frame without prediction
            target = tmp_path / folder / key
            target.parent.mkdir(parents=True, exist_ok=True)
            trimesh.Trimesh(human, body.faces, process=False).export(f'{target}.human.ply')
            trimesh.Trimesh(obj, box.faces, process=False).export(f'{target}.object.obj')
    (tmp_path / 'vis.json').write_text(json.dumps({'Date01_Sub01_boxlarge/t0001.000/k1': 0.8}))
    out = tmp_path / 'scores.json'
    log = run_tool('tools/evaluate_meshes.py', '--pred', str(tmp_path / 'pred'), '--gt', str(tmp_path / 'gt'),
                   '--object-suffix', '.object.obj', '--num-samples', '400', '--category-regex',
                   r'Date\d+_Sub\d+_([a-z]+)', '--visibility', str(tmp_path / 'vis.json'), '--out', str(out))
    assert 'HOI aligned' in log and 'skipped frames: 1' in log
    saved = json.loads(out.read_text())
    frames = {f['img_id']: f for f in saved['frames']}
    assert frames['Date02_Sub02_stool/t3/k0']['skipped'] == 'missing prediction'
    assert saved['summary']['visible']['num_frames'] == 1
    assert set(saved['summary']['per_category']) == {'boxlarge', 'chairwood'}
    keys = list(all_keys[:2])

    def reload(path):  # the files store rounded coordinates (OBJ is text)
        mesh = trimesh.load(path, process=False, force='mesh', maintain_order=True)
        return np.asarray(mesh.vertices), np.asarray(mesh.faces)

    files = [('pred', '.human.ply'), ('pred', '.object.obj'), ('gt', '.human.ply'), ('gt', '.object.obj')]
    expected = evaluate_hoi_frames(*([reload(tmp_path / folder / f'{k}{suffix}') for k in keys]
                                     for folder, suffix in files),
                                   num_samples=400,
                                   seed=7,
                                   frame_keys=keys)
    for row, key in enumerate(keys):
        for alignment, parts in expected.chamfer_cm.items():
            for part, values in parts.items():
                assert frames[key]['chamfer_cm'][alignment][part] == pytest.approx(values[row], rel=1e-9)


def test_benchmark_runs_and_agrees_with_the_reference_loop():
    log = run_tool('tools/analysis/benchmark_eval.py', '--frames', '2', '--reference-frames', '1', '--check-frames',
                   '1', '--num-samples', '300', '--batch-size', '2')
    assert re.search(r'reference .* frames/s', log) and re.search(r'ours .* frames/s', log)
    difference = float(re.search(r'max relative diff ([0-9.e+-]+)', log).group(1))
    assert difference < 1e-9
