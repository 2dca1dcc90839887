"""Fixtures for runner-level engine tests on the toy regression task."""
import os.path as osp
import uuid

import pytest
from mmengine.config import Config

import hoirecon.testing  # noqa: F401  (registers the toy model, dataset, metric and hook)

TOY_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'configs', 'toy_regression.py')


@pytest.fixture
def toy_cfg(tmp_path):
    """``make(name, **options)``: the toy config with its own work dir and a unique experiment name.

    A unique ``experiment_name`` keeps runners of one test process from sharing a message hub or a logger.
    """

    def make(name: str, **options) -> Config:
        cfg = Config.fromfile(TOY_CONFIG)
        cfg.merge_from_dict(options)
        cfg.work_dir = str(tmp_path / name)
        cfg.experiment_name = f'{name}_{uuid.uuid4().hex[:8]}'
        return cfg

    return make
