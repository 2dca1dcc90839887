"""The tools run end to end from the repository root: train, resume, test, and 2-process CPU training."""
import glob
import json
import math
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import torch

from hoirecon.engine import from_plain

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join('tests', 'data', 'configs', 'toy_regression.py')


def _run(*command, **env):
    """Run ``command`` in the repository root with the venv's python first on PATH; return its output."""
    environ = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'], **env)
    result = subprocess.run(command, cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def test_train_resume_and_test_tools(tmp_path):
    work_dir = str(tmp_path / 'work')
    _run(sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', work_dir, '--cfg-options',
         'train_cfg.max_epochs=1')
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))

    output = _run(sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', work_dir, '--resume', '--cfg-options',
                  'train_cfg.max_epochs=2')
    assert 'resumed epoch: 1, iter: 8' in output
    assert json.load(open(osp.join(work_dir, 'steps_rank0.json')))['iters'] == 16

    preds = str(tmp_path / 'preds.pkl')
    output = _run(sys.executable, 'tools/test.py', TOY_CONFIG, osp.join(work_dir, 'epoch_2.pth'), '--work-dir',
                  str(tmp_path / 'test'), '--out', preds)
    assert 'toy/mse:' in output
    with open(preds, 'rb') as f:  # written by this test just above
        assert len(pickle.load(f)) == 8


def test_two_process_cpu_training_and_testing(tmp_path):
    work_dir = str(tmp_path / 'dist')
    output = _run('bash',
                  'tools/dist_train.sh',
                  TOY_CONFIG,
                  '2',
                  '--work-dir',
                  work_dir,
                  '--cfg-options',
                  'train_dataloader.dataset.nonfinite_indices=[5]',
                  PORT=_free_port())
    assert "using the gloo backend instead of 'nccl'" in output

    records = [json.load(open(osp.join(work_dir, f'steps_rank{rank}.json'))) for rank in (0, 1)]
    for rank, record in enumerate(records):
        assert (record['rank'], record['world_size'], record['epochs']) == (rank, 2, 2)
        assert record['iters'] == 8  # 16 samples / (2 ranks x batch 2) x 2 epochs
    for epoch in range(2):  # each epoch the two ranks split the 16 samples between them
        shards = [set(r['indices'][8 * epoch:8 * (epoch + 1)]) for r in records]
        assert shards[0].isdisjoint(shards[1]) and shards[0] | shards[1] == set(range(16))
    assert records[0]['params'] == records[1]['params']  # DDP kept the replicas identical

    checkpoints = sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, '**', '*.pth'), recursive=True))
    assert checkpoints == ['epoch_1.pth', 'epoch_2.pth']
    checkpoint = torch.load(osp.join(work_dir, 'epoch_2.pth'), weights_only=True)
    weights = checkpoint['state_dict']
    assert torch.cat([weights['linear.weight'].flatten(), weights['linear.bias']]).tolist() == records[0]['params']
    assert all(math.isfinite(p) for p in records[0]['params'])
    skipped = from_plain(checkpoint['message_hub']['log_scalars']['train/nonfinite_skipped'])
    assert skipped.current() == 2  # the batch holding sample 5, once per epoch, skipped on both ranks together

    output = _run('bash',
                  'tools/dist_test.sh',
                  TOY_CONFIG,
                  osp.join(work_dir, 'epoch_2.pth'),
                  '2',
                  '--work-dir',
                  str(tmp_path / 'test'),
                  PORT=_free_port())
    assert 'toy/mse:' in output
