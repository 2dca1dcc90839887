"""A tiny synthetic dataset, generated once per test session (about 10 s on 2 cores)."""
import pytest

TINY = dict(num_sequences=3, frames_per_sequence=2, seed=11, image_size=(128, 96), objects=('stool', 'boxmedium'),
            keypoint_noise_px=1.0, corr_noise_px=0.5, corr_outlier_ratio=0.2, corr_num_points=64, workers=1,
            progress=False)


@pytest.fixture(scope='session')
def tiny_params():
    """Parameters of :func:`tiny_dataset` (for tests that resume it)."""
    return dict(TINY)


@pytest.fixture(scope='session')
def tiny_dataset(tmp_path_factory, surrogate_body_root):
    from hoirecon.synthetic import generate_synthetic_behave
    root = tmp_path_factory.mktemp('synthetic') / 'behave'
    summary = generate_synthetic_behave(str(root), **TINY)
    return str(root), summary
