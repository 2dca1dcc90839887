"""Shared pytest setup.

Generated files (the surrogate body model, small synthetic datasets) go to a
cache inside the checkout (``.cache/hoirecon``, ignored by git) so that the
pytest-xdist workers and later runs share them instead of rebuilding.
"""
import os
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
os.environ.setdefault('HOIRECON_CACHE', osp.join(REPO_ROOT, '.cache', 'hoirecon'))
os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
# pytest-xdist runs one worker per core: more intra-op threads per worker only contend.
os.environ.setdefault('OMP_NUM_THREADS', '1')

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))


@pytest.fixture(scope='session')
def surrogate_body_root():
    """Folder with the licence-free surrogate ``smpl/`` and ``smplh/`` files."""
    from hoirecon.models.body_models import ensure_surrogate_body
    return ensure_surrogate_body()
