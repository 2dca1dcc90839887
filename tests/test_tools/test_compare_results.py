"""tools/analysis/compare_results.py: one table from several metric files; mismatched protocols refused."""
import importlib.util
import json
import os.path as osp

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location('compare_results',
                                                  osp.join(REPO_ROOT, 'tools', 'analysis', 'compare_results.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path, human, obj, seed=7):
    parts = {a: {'human': {'mean': human, 'std': 0.5}, 'object': {'mean': obj, 'std': 1.5}} for a in ('hoi', 'none')}
    data = dict(protocol=dict(num_samples=10000, seed=seed, alignments=['hoi', 'none'], frame_selection='all kinects',
                              surrogate_body=True),
                summary=dict(all=dict(parts, num_frames=40), num_skipped=2), frames=[])
    path.write_text(json.dumps(data))
    return str(path)


def test_table_rows_and_protocol(tmp_path):
    text = _tool().main([f'A={_write(tmp_path / "a.json", 4.5, 9.125)}', f'B={_write(tmp_path / "b.json", 5, 12)}'])
    rows = text.splitlines()
    assert rows[0] == '| method | HOI aligned (human / object) | w/o alignment (human / object) | frames | skipped |'
    assert rows[2] == '| A | 4.50 ± 0.50 / 9.12 ± 1.50 | 4.50 ± 0.50 / 9.12 ± 1.50 | 40 | 2 |'
    assert rows[3].startswith('| B | 5.00 ± 0.50 / 12.00 ± 1.50')
    assert 'num_samples=10000' in text and 'surrogate_body=True' in text


def test_different_protocols_are_refused(tmp_path):
    with pytest.raises(SystemExit, match='seed'):
        _tool().main([f'A={_write(tmp_path / "a.json", 4, 9)}', f'B={_write(tmp_path / "b.json", 4, 9, seed=0)}'])
    with pytest.raises(SystemExit, match='cannot read'):
        _tool().main([f'A={tmp_path / "missing.json"}'])
