"""tools/analysis/compare_results.py: one table from several metric files; mismatched protocols refused."""
import json

import pytest


def _write(path, human, obj, seed=7):
    parts = {a: {'human': {'mean': human, 'std': 0.5}, 'object': {'mean': obj, 'std': 1.5}} for a in ('hoi', 'none')}
    data = dict(protocol=dict(num_samples=10000, seed=seed, alignments=['hoi', 'none'], frame_selection='all kinects',
                              surrogate_body=True),
                summary=dict(all=dict(parts, num_frames=40), num_skipped=2), frames=[])
    path.write_text(json.dumps(data))
    return str(path)


def test_table_rows_and_protocol(compare_results_tool, tmp_path):
    text = compare_results_tool.main([f'A={_write(tmp_path / "a.json", 4.5, 9.125)}', f'B={_write(tmp_path / "b.json", 5, 12)}'])
    rows = text.splitlines()
    assert rows[0] == '| method | HOI aligned (human / object) | w/o alignment (human / object) | frames | skipped |'
    assert rows[2] == '| A | 4.50 ± 0.50 / 9.12 ± 1.50 | 4.50 ± 0.50 / 9.12 ± 1.50 | 40 | 2 |'
    assert rows[3].startswith('| B | 5.00 ± 0.50 / 12.00 ± 1.50')
    assert 'num_samples=10000' in text and 'surrogate_body=True' in text


def test_different_protocols_are_refused(compare_results_tool, tmp_path):
    with pytest.raises(SystemExit, match='seed'):
        compare_results_tool.main([f'A={_write(tmp_path / "a.json", 4, 9)}', f'B={_write(tmp_path / "b.json", 4, 9, seed=0)}'])
    with pytest.raises(SystemExit, match='cannot read'):
        compare_results_tool.main([f'A={tmp_path / "missing.json"}'])
