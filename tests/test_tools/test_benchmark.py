"""tools/benchmark.py and hoirecon.apis.benchmark: the table, CSV and chart from records; one run end to end."""
import csv
import io
import json
import os
import os.path as osp

import numpy as np
import pytest

from hoirecon.apis import benchmark as benchmark_api
from hoirecon.apis.benchmark import (benchmark_table, chamfer_summary, checkpoint_fit, csv_text, load_records,
                                     merge_records, new_record, own_checkpoint, run_benchmark, write_body_estimates,
                                     write_chart)
from hoirecon.testing.tiny_model import save_plausible_tiny_checkpoint
from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow.py')


def _load_tool():
    return load_tool('benchmark')


def _record(method, refine, all_rows, vis_rows=None, **extra):
    record = new_record(method, f'configs/{method}.py', 'ckpt.pth', refine)
    record.update(chamfer=dict(all=all_rows, vis=vis_rows), visibility_threshold=0.3, images=10, device='cpu',
                  seconds_per_image=0.25, peak_memory_mib=812.4, memory_kind='RSS', **extra)
    return record


def _cells(h, o, hn, on, frames):
    return dict(human_hoi=[h, 1.0], object_hoi=[o, 2.5], human_none=[hn, 0.125], object_none=[on, 3.0], frames=frames)


@pytest.fixture
def records():
    return [
        _record('stackflow', True, _cells(4.5, 9.12, 9.41, 11.15, 10), _cells(4.51, 8.77, 9.26, 10.51, 8)),
        _record('stackflow', False, _cells(4.72, 11.85, 7.63, 15.71, 10), _cells(4.71, 11.45, 7.66, 15.19, 8)),
        new_record('regression_head', 'configs/rh.py', None, False, 'not run',
                   'not run: no checkpoint (train with python tools/train.py configs/rh.py)'),
        dict(_record('chore', None, dict(human_hoi=[5.58, 2.11], object_hoi=[10.66, 7.71], frames=4)),
             seconds_per_image=None, peak_memory_mib=None, memory_kind=None),
    ]


def test_table_rows_follow_stackflow_readme_order(records):
    lines = benchmark_table(records, title='Synthetic test split').splitlines()
    assert lines[:4] == [
        '**Synthetic test split**', '',
        '| Method | Visible ratio | Post-optimisation | HOI aligned human | HOI aligned object | w/o alignment human | '
        'w/o alignment object | frames | s / image | peak memory (MiB) |',
        '|---|---|---|---|---|---|---|---|---|---|']
    assert lines[4:] == [
        '| stackflow | all | × | 4.72±1.00 | 11.85±2.50 | 7.63±0.12 | 15.71±3.00 | 10 | 0.250 | 812 (RSS) |',
        '| stackflow | all | ✓ | 4.50±1.00 | 9.12±2.50 | 9.41±0.12 | 11.15±3.00 | 10 | 0.250 | 812 (RSS) |',
        '| stackflow | >0.3 | × | 4.71±1.00 | 11.45±2.50 | 7.66±0.12 | 15.19±3.00 | 8 | 0.250 | 812 (RSS) |',
        '| stackflow | >0.3 | ✓ | 4.51±1.00 | 8.77±2.50 | 9.26±0.12 | 10.51±3.00 | 8 | 0.250 | 812 (RSS) |',
        '| regression_head | - | × | not run: no checkpoint (train with python tools/train.py configs/rh.py) | - | - '
        '| - | - | - | - |',
        '| chore | all | - | 5.58±2.11 | 10.66±7.71 | - | - | 4 | - | - |',
    ]


def test_csv_has_the_numbers_unrounded_and_the_reasons(records):
    rows = list(csv.DictReader(io.StringIO(csv_text(records))))
    assert [(r['method'], r['visible_ratio'], r['post_optimisation']) for r in rows] == [
        ('stackflow', 'all', '0'), ('stackflow', 'all', '1'), ('stackflow', '>0.3', '0'), ('stackflow', '>0.3', '1'),
        ('regression_head', '', '0'), ('chore', 'all', '')]
    assert rows[0]['human_none_std'] == '0.125' and rows[0]['object_hoi_mean'] == '11.85'
    assert rows[0]['peak_memory_mib'] == '812.4' and rows[0]['memory_kind'] == 'RSS' and rows[0]['status'] == 'ok'
    assert rows[4]['status'] == 'not run' and rows[4]['reason'].startswith('not run: no checkpoint')
    assert rows[4]['human_hoi_mean'] == '' and rows[4]['seconds_per_image'] == ''
    assert rows[5]['human_none_mean'] == '' and rows[5]['seconds_per_image'] == ''


def test_rows_timed_on_different_machines_are_named_under_the_table(records):
    one_machine = [dict(r, machine='AMD EPYC (AVX2, 2 cores), torch threads 2') for r in records]
    assert 'Timed on' not in benchmark_table(one_machine)
    assert list(csv.DictReader(io.StringIO(csv_text(one_machine))))[0]['machine'] == \
        'AMD EPYC (AVX2, 2 cores), torch threads 2'
    merged = one_machine[:1] + [dict(records[1], machine='NVIDIA H100 80GB HBM3')] + one_machine[2:] + \
        [_record('phosa', False, _cells(7.8, 33.3, 20.0, 40.0, 10))]  # a record from before the field existed
    assert benchmark_table(merged).splitlines()[-2:] == [
        '', 'Timed on different machines: AMD EPYC (AVX2, 2 cores), torch threads 2 (stackflow ✓); '
        'NVIDIA H100 80GB HBM3 (stackflow ×); machine not recorded (phosa ×).']


def test_chart_is_a_readable_png(records, tmp_path):
    import matplotlib.image
    path = write_chart(records, str(tmp_path / 'chart.png'))
    assert open(path, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image[..., :3]) > 0.5  # bars drawn, not a blank page


def test_chamfer_summary_reads_the_metric_scalars():
    metrics = {'hoi_chamfer/human_hoi': 4.0, 'hoi_chamfer/human_hoi_std': 1.0, 'hoi_chamfer/object_hoi': 9.0,
               'hoi_chamfer/object_hoi_std': 2.0, 'hoi_chamfer/human_hoi_vis0.3': 3.0,
               'hoi_chamfer/human_hoi_vis0.3_std': 0.5, 'hoi_chamfer/num_frames': 7,
               'hoi_chamfer_initial/human_hoi': 99.0}
    summary = chamfer_summary(metrics)
    assert summary == dict(all=dict(human_hoi=[4.0, 1.0], object_hoi=[9.0, 2.0], frames=7),
                           vis=dict(human_hoi=[3.0, 0.5]), threshold=0.3)
    initial = chamfer_summary(metrics, 'hoi_chamfer_initial')
    assert initial['all']['human_hoi'][0] == 99.0 and np.isnan(initial['all']['human_hoi'][1])
    assert initial['vis'] is None and initial['threshold'] is None


def test_own_checkpoint_is_the_last_one_training_left(tmp_path):
    assert own_checkpoint(str(tmp_path)) is None
    for name in ('epoch_2.pth', 'epoch_10.pth', 'best.pth'):
        (tmp_path / name).write_bytes(b'')
    assert own_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert own_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')


def test_checkpoint_fit_names_missing_and_reshaped_weights(tmp_path):
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    assert checkpoint_fit(model, path) is None
    other = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 1), torch.nn.Linear(1, 1))
    reason = checkpoint_fit(other, path)
    assert reason == f'{path} does not fit this model: 2 weights missing (e.g. 2.weight), 3 of another shape ' \
        '(e.g. 0.weight)'


def _write_meshes(folder, key, shift):
    import trimesh
    human = trimesh.creation.box(extents=(0.4, 1.7, 0.3))
    obj = trimesh.creation.box(extents=(0.3, 0.3, 0.3))
    obj.apply_translation((0.5, 0.0, 0.0))
    for mesh, suffix in ((human, '.human.ply'), (obj, '.object.ply')):
        mesh = mesh.copy()
        mesh.apply_translation((shift, 0.0, 2.0))
        path = osp.join(folder, key + suffix)
        os.makedirs(osp.dirname(path), exist_ok=True)
        mesh.export(path)


def test_body_estimates_are_written_first_and_never_stop_the_run(tmp_path):
    """--body-estimates: the export runs (through the benchmark's runner) with the benchmark's options and its own
    work dir; a missing file or a failed export is one line, and the methods still run."""
    config, checkpoint = tmp_path / 'body.py', tmp_path / 'body.pth'
    config.write_text('')
    checkpoint.write_bytes(b'')
    calls = []

    def call(function, log_file, **kwargs):
        calls.append((function.__name__, log_file, kwargs))
        return {'body_estimates/written': 3.0, 'body_estimates/skipped': 1.0}

    source = dict(config=str(config), checkpoint=str(checkpoint))
    common = dict(cfg_options={'test_dataloader.dataset.indices': 4}, data_root=None, threads=1)
    line = write_body_estimates(source, str(tmp_path / 'out'), call, 'estimates.log', common)
    assert line == '3 written, 1 already there (kept)'
    name, log_file, kwargs = calls[0]
    assert name == 'export_body_estimates' and log_file == 'estimates.log'
    assert kwargs['cfg_options'] == {'test_dataloader.dataset.indices': 4} and kwargs['threads'] == 1
    assert kwargs['work_dir'] == osp.join(str(tmp_path / 'out'), 'runs', 'body_estimates')
    assert kwargs['config'] == str(config) and kwargs['checkpoint'] == str(checkpoint)

    def failing(function, log_file, **kwargs):
        raise RuntimeError('KeyError: no body in this model (traceback in estimates.log)')

    assert write_body_estimates(source, str(tmp_path), failing, 'x.log', common) == \
        'not written: KeyError: no body in this model (traceback in estimates.log)'
    gone = dict(source, checkpoint=str(tmp_path / 'gone.pth'))
    assert write_body_estimates(gone, str(tmp_path), call, 'x.log', common).startswith(
        f'not written: checkpoint {tmp_path / "gone.pth"} not found')
    printed = []
    records = run_benchmark([dict(config=str(tmp_path / 'nope.py'))], str(tmp_path / 'b'), isolate=False,
                            body_estimates=gone, log=printed.append)
    assert printed[0].startswith('[0/1] body estimates from') and printed[1].strip().startswith('not written')
    assert records[0]['reason'] == f'not run: config {tmp_path / "nope.py"} not found'
    with pytest.raises(SystemExit):
        _load_tool().parse_args(['a.py', '--body-estimates', 'no_checkpoint.py'])


def _fake_runs(monkeypatch, out):
    """run_method replaced by a fake that records its calls; the ✓ run checks that the × row is already on disk."""
    calls = []

    def fake_run_method(config, checkpoint=None, refine=False, **kwargs):
        calls.append((config, checkpoint, refine, kwargs['cfg_options']))
        if refine:  # the table is rewritten after every row: the network row is there before this one runs
            assert [r['refine'] for r in load_records(str(out / 'records.json'))] == [False]
        record = _record(benchmark_api.method_name(config), refine, _cells(5.0 + refine, 9.0, 20.0, 30.0, 4))
        return dict(record, config=config, checkpoint=checkpoint)

    monkeypatch.setattr(benchmark_api, 'run_method', fake_run_method)
    return calls


def test_resume_reuses_only_rows_of_the_same_run(tmp_path, monkeypatch):
    """--resume: a row is reused only with the same config settings, checkpoint file, stage and options; the
    previous records.json is kept, never overwritten."""
    config, checkpoint, out = tmp_path / 'method.py', tmp_path / 'method.pth', tmp_path / 'bench'
    config.write_text("model = dict(type='M', refiner=dict(type='R'))\n")
    checkpoint.write_bytes(b'weights')
    calls = _fake_runs(monkeypatch, out)
    methods = [dict(config=str(config), checkpoint=str(checkpoint))]
    run = lambda **kw: run_benchmark(methods, str(out), refine=True, isolate=False, log=lambda line: None,  # noqa
                                     **kw)
    first = run()
    assert [c[2] for c in calls] == [False, True] and len(first) == 2
    assert first[0]['run']['checkpoint']['bytes'] == 7 and first[0]['measured_at']
    on_disk = load_records(str(out / 'records.json'))
    assert [r['chamfer'] for r in on_disk] == [r['chamfer'] for r in first]

    printed = []
    again = run_benchmark(methods, str(out), refine=True, isolate=False, resume=True, log=printed.append)
    assert len(calls) == 2, 'nothing runs again'
    assert [(r['refine'], r['measured_at'], r['chamfer']) for r in again] == \
        [(r['refine'], r['measured_at'], r['chamfer']) for r in first]
    assert sum('reused' in line for line in printed) == 2
    kept = [name for name in os.listdir(out) if name.startswith('records.') and name != 'records.json']
    assert len(kept) == 1 and load_records(str(out / kept[0]))[0]['chamfer'] == first[0]['chamfer']

    run(resume=True, cfg_options={'test_dataloader.batch_size': 2})  # other options: both rows run
    assert len(calls) == 4 and calls[-1][3] == {'test_dataloader.batch_size': 2}
    os.utime(checkpoint, (1, 1))  # another checkpoint file at the same path: run again
    run(resume=True, cfg_options={'test_dataloader.batch_size': 2})
    assert len(calls) == 6
    config.write_text("model = dict(type='M', refiner=dict(type='R', steps=3))\n")  # other settings
    run(resume=True, cfg_options={'test_dataloader.batch_size': 2})
    assert len(calls) == 8
    run(cfg_options={'test_dataloader.batch_size': 2})  # no --resume: everything runs
    assert len(calls) == 10


def test_merge_puts_runs_of_other_sessions_in_one_table(tmp_path, monkeypatch, capsys):
    """--merge: rows of several records.json files and of this run in one table; a later row with the same method
    and post-optimisation replaces the earlier one; a file that is not a records.json is named."""
    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    a.write_text(json.dumps([_record('phosa', False, _cells(8.0, 40.0, 28.0, 45.0, 416)),
                             _record('stackflow', False, _cells(6.0, 15.0, 28.0, 45.0, 416))]))
    b.write_text(json.dumps([_record('chore', True, _cells(5.3, 11.1, 15.1, 12.5, 416)),
                             _record('phosa', False, _cells(7.0, 39.0, 28.0, 45.0, 416))]))
    merged = merge_records([str(a), str(b)], log=lambda line: None)
    assert [(r['method'], r['chamfer']['all']['object_hoi'][0], r['source']) for r in merged] == \
        [('phosa', 39.0, str(b)), ('stackflow', 15.0, str(a)), ('chore', 11.1, str(b))]
    out = tmp_path / 'table'
    tool = _load_tool()
    tool.main(['--merge', str(a), str(b), '--out', str(out), '--title', 'merged'])
    table = (out / 'benchmark.md').read_text()
    assert '| phosa | all | × | 7.00±1.00 | 39.00±2.50 |' in table and '| chore | all | ✓ | 5.30±1.00 |' in table
    assert '| stackflow | all | × | 6.00±1.00 |' in table and table.startswith('**merged**')

    # with configs as well: this run's row replaces the merged one of the same method and stage
    config = tmp_path / 'stackflow.py'
    config.write_text("model = dict(type='M')\n")
    checkpoint = tmp_path / 'ckpt.pth'
    checkpoint.write_bytes(b'w')
    _fake_runs(monkeypatch, out)
    records = run_benchmark([dict(config=str(config), checkpoint=str(checkpoint))], str(out), isolate=False,
                            merged=merged, log=lambda line: None)
    assert [(r['method'], r['chamfer']['all']['human_hoi'][0]) for r in records] == \
        [('phosa', 7.0), ('chore', 5.3), ('stackflow', 5.0)]

    bad = tmp_path / 'bad.json'
    bad.write_text('{"method": 1}')
    with pytest.raises(SystemExit, match='bad.json: not a records.json'):
        tool.main(['--merge', str(bad), '--out', str(out)])
    with pytest.raises(SystemExit):
        tool.parse_args(['--out', str(out)])  # nothing to put in the table
    with pytest.raises(SystemExit):
        tool.parse_args(['--merge', str(tmp_path / 'missing.json')])


@pytest.mark.slow
def test_benchmark_end_to_end(behave_synthetic_root, surrogate_body_root, tmp_path, capsys):
    """StackFLOW (tiny, random plausible weights) with and without post-optimisation, a config with no checkpoint,
    exported meshes and a missing mesh folder: one table, CSV and chart."""
    checkpoint = save_plausible_tiny_checkpoint(CONFIG, str(tmp_path / 'tiny.pth'))
    untrained = tmp_path / 'tiny_untrained.py'
    untrained.write_text(f'_base_ = [{CONFIG!r}]\n')
    for key in ('seq/t0001/k1', 'seq/t0002/k1'):
        _write_meshes(str(tmp_path / 'gt'), key, 0.0)
        _write_meshes(str(tmp_path / 'pred'), key, 0.05)
    out = tmp_path / 'bench'
    tool = _load_tool()
    records = tool.main([f'{CONFIG}={checkpoint}', str(untrained), '--refine', '--out', str(out),
                         '--train-root', str(tmp_path / 'work_dirs'), '--threads', '1',
                         '--meshes', f'boxes={tmp_path / "pred"}', f'gone={tmp_path / "nowhere"}',
                         '--gt-meshes', str(tmp_path / 'gt'),
                         '--cfg-options', f'test_dataloader.dataset.data_root={behave_synthetic_root}',
                         f'train_dataloader.dataset.data_root={behave_synthetic_root}',
                         'test_evaluator.out_file=chamfer.json'])
    printed = capsys.readouterr().out
    by_name = {(r['method'], r['refine']): r for r in records}
    network, refined = by_name[('tiny_stackflow', False)], by_name[('tiny_stackflow', True)]
    for record in (network, refined):
        assert record['status'] == 'ok', record['reason']
        assert record['images'] == record['chamfer']['all']['frames'] > 0
        assert record['seconds_per_image'] > 0 and record['peak_memory_mib'] > 100 and record['memory_kind'] == 'RSS'
        assert record['machine'].endswith('cores), torch threads 1'), record['machine']
        for key in ('human_hoi', 'object_hoi', 'human_none', 'object_none'):
            assert np.isfinite(record['chamfer']['all'][key]).all()
        assert 0 < record['chamfer']['vis']['frames'] <= record['images']
    assert network['chamfer']['all']['human_hoi'] != refined['chamfer']['all']['human_hoi']
    # the numbers are the test run's own metric file
    scored = json.load(open(out / 'runs' / 'tiny_stackflow' / 'chamfer.json'))['summary']['all']
    assert network['chamfer']['all']['object_hoi'] == [scored['hoi']['object']['mean'], scored['hoi']['object']['std']]
    untrained_record = by_name[('tiny_untrained', False)]
    assert untrained_record['status'] == 'not run'
    assert untrained_record['reason'] == f'not run: no checkpoint (train with python tools/train.py {untrained})'
    boxes = by_name[('boxes', None)]
    assert boxes['status'] == 'ok' and boxes['chamfer']['all']['frames'] == 2
    assert 0 < boxes['chamfer']['all']['human_none'][0] < 20
    assert by_name[('gone', None)]['reason'] == f'not run: mesh folder {tmp_path / "nowhere"} not found'

    table = (out / 'benchmark.md').read_text()
    assert table.strip() in printed
    assert '| tiny_stackflow | all | × |' in table and '| tiny_stackflow | >0.3 | ✓ |' in table
    assert f'| tiny_untrained | - | × | not run: no checkpoint (train with python tools/train.py {untrained}) |' \
        in table
    rows = list(csv.DictReader(open(out / 'benchmark.csv')))
    assert len(rows) == len(table.strip().splitlines()) - 2
    assert open(out / 'benchmark.png', 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    assert (out / 'logs' / 'tiny_stackflow_refine.log').is_file()
    assert '[1/4] tiny_stackflow' in printed and 'HOI-aligned human / object' in printed
