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


#: Two 12-frame sequences (one of them the two-part Date03_Sub04_boxtiny) seen by kinects 0 and 1 at 96 x 72 pixels.
TINY_SYNTHETIC_SEQUENCES = dict(num_sequences=2, frames_per_sequence=12, seed=3, image_size=(96, 72), kinects=(0, 1),
                                corr_num_points=64)


@pytest.fixture(scope='session')
def behave_extended_synthetic_root(tmp_path_factory, surrogate_body_root):
    """Root of a tiny synthetic BEHAVE-extended (30 fps) dataset (:data:`TINY_SYNTHETIC_SEQUENCES`)."""
    from hoirecon.synthetic.behave_extended import generate_synthetic_sequences
    root = str(tmp_path_factory.mktemp('behave_extended_synthetic') / 'behave_extended')
    generate_synthetic_sequences(root, workers=1, progress=False, **TINY_SYNTHETIC_SEQUENCES)
    return root


@pytest.fixture(scope='session')
def behave_synthetic_root(tmp_path_factory):
    """Root of a 2-sequence x 2-frame x 4-kinect synthetic BEHAVE dataset at 128x96 pixels."""
    from hoirecon.synthetic.generate import generate_synthetic_behave
    root = str(tmp_path_factory.mktemp('behave_synthetic') / 'behave')
    generate_synthetic_behave(root, workers=0, progress=False, **TINY_SYNTHETIC_BEHAVE)
    return root
