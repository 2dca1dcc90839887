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
    from hoirecon.assets import ensure_surrogate_body
    return ensure_surrogate_body()


#: Seed 6 plans a female training sequence and a male test sequence (the male-betas fit needs a female subject).
TINY_SYNTHETIC_BEHAVE = dict(num_sequences=2, frames_per_sequence=2, seed=6, image_size=(128, 96))


@pytest.fixture(scope='session')
def behave_synthetic_root(tmp_path_factory):
    """Root of a 2-sequence x 2-frame x 4-kinect synthetic BEHAVE dataset at 128x96 pixels."""
    from hoirecon.synthetic.generate import generate_synthetic_behave
    root = str(tmp_path_factory.mktemp('behave_synthetic') / 'behave')
    generate_synthetic_behave(root, workers=0, progress=False, **TINY_SYNTHETIC_BEHAVE)
    return root
