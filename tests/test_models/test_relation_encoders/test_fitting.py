"""fit_offset_pca with the surrogate SMPL-H and the procedural BEHAVE templates."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.models.relation_encoders import (OffsetPCA, fit_offset_pca, human_anchors_in_hoi_frame, load_offset_pca,
                                               relative_object_pose, sample_human_anchor_indices, save_offset_pca)
from hoirecon.objects import ObjectLibrary


def training_samples(rng, make_random_rotations, counts):
    """``counts[name]`` random samples per object: betas, 21 body rotations, a relative pose near the body."""
    samples = []
    for name, count in counts.items():
        body_pose = Rotation.from_rotvec(rng.normal(scale=0.2, size=(count * 21, 3))).as_matrix()
        for i, rel_R in enumerate(make_random_rotations(rng, count)):
            samples.append(
                dict(object_name=name,
                     rel_R=rel_R,
                     rel_t=rng.normal(scale=0.3, size=3),
                     betas=rng.normal(scale=0.5, size=10),
                     body_pose=body_pose[21 * i:21 * i + 21]))
    return samples


@pytest.fixture(scope='module')
def library():
    return ObjectLibrary('behave')


def test_human_anchors_are_seeded_per_part_draws(surrogate_smplh):
    labels = surrogate_smplh.part_labels
    indices = sample_human_anchor_indices(labels, 32, seed=7)
    assert indices.shape == (704, ) and indices.dtype == np.int64
    np.testing.assert_array_equal(labels[indices].reshape(22, 32), np.repeat(np.arange(22)[:, None], 32, axis=1))
    assert all(len(set(part)) == 32 for part in indices.reshape(22, 32))
    np.testing.assert_array_equal(indices, sample_human_anchor_indices(labels, 32, seed=7))
    assert not np.array_equal(indices, sample_human_anchor_indices(labels, 32, seed=8))
    with pytest.raises(ValueError, match='body part 21 owns no vertex'):
        sample_human_anchor_indices(np.minimum(labels, 20), 32)
    with pytest.warns(UserWarning, match='with replacement'):
        sample_human_anchor_indices(np.arange(44) % 22, 3)


def test_hoi_frame_and_relative_pose_match_the_posed_world_body(surrogate_smplh, make_random_rotations):
    """A point fixed in the HOI frame goes to the world like the body: R_g p + J0_world."""
    rng = np.random.default_rng(5)
    betas = torch.as_tensor(rng.normal(size=(2, 10)))
    body_pose = torch.as_tensor(Rotation.from_rotvec(rng.normal(scale=0.3,
                                                                size=(42, 3))).as_matrix()).reshape(2, 21, 3, 3)
    orient = torch.as_tensor(make_random_rotations(rng, 2))
    transl = torch.as_tensor(rng.normal(size=(2, 3)))
    indices = torch.arange(0, 6890, 97)
    hoi = human_anchors_in_hoi_frame(surrogate_smplh, betas, body_pose, indices)
    world = surrogate_smplh(betas=betas, global_orient=orient, body_pose=body_pose, transl=transl)
    root = world.joints[:, 0]
    torch.testing.assert_close(hoi @ orient.transpose(1, 2) + root[:, None], world.vertices[:, indices])
    object_R, object_t = torch.as_tensor(make_random_rotations(rng, 2)), torch.as_tensor(rng.normal(size=(2, 3)))
    rel_R, rel_t = relative_object_pose(orient, root, object_R, object_t)
    torch.testing.assert_close(orient @ rel_R, object_R)
    torch.testing.assert_close((orient @ rel_t[..., None])[..., 0] + root, object_t)


def test_fit_round_trip_mixed_objects_and_metadata(surrogate_smplh, library, tmp_path, make_random_rotations):
    rng = np.random.default_rng(0)
    samples = training_samples(rng, make_random_rotations, {'boxsmall': 5, 'stool': 3})
    with pytest.warns(UserWarning) as caught:
        arrays = fit_offset_pca(samples, surrogate_smplh, library, pca_dim=4)
    messages = ' '.join(str(w.message) for w in caught)
    assert 'stool has 3 samples, so only 2 of 4' in messages and "no training samples for ['backpack'" in messages
    path = save_offset_pca(tmp_path / 'pca.npz', arrays)
    loaded = load_offset_pca(path)
    box, stool = library.index('boxsmall'), library.index('stool')
    assert loaded['num_samples'][box] == 5 and loaded['num_samples'][stool] == 3 and loaded['num_samples'].sum() == 8
    assert loaded['num_components'][box] == 4 and loaded['num_components'][stool] == 2
    np.testing.assert_allclose(loaded['explained_variance_ratio'][box].sum(), 1.0)  # 5 samples span 4 dims
    assert str(loaded['body_model_type']) == 'smplh' and bool(loaded['surrogate']) and str(loaded['gender']) == 'male'
    assert str(loaded['dataset']) == 'behave' and loaded['mean_y'].shape == (20, 3 * (704 + 64))
    np.testing.assert_array_equal(loaded['object_anchor_indices'][box], library['boxsmall'].anchor_indices(64))
    np.testing.assert_allclose(loaded['object_anchor_points'][box],
                               library['boxsmall'].vertices[loaded['object_anchor_indices'][box]])

    enc = OffsetPCA(path, pca_dim=4)
    order = [0, 5, 1, 6, 2, 7, 3, 4]  # interleave the two objects
    labels = torch.tensor([library.index(samples[i]['object_name']) for i in order])

    def stack(key):
        return torch.as_tensor(np.stack([samples[i][key] for i in order]))

    human = human_anchors_in_hoi_frame(surrogate_smplh, stack('betas'), stack('body_pose'), enc.human_anchor_indices)
    rel_R, rel_t = stack('rel_R'), stack('rel_t')
    dec_R, dec_t = enc.decode(enc.encode(rel_R, rel_t, labels, human), labels, human)
    torch.testing.assert_close(dec_R, rel_R, rtol=0, atol=1e-5)
    torch.testing.assert_close(dec_t, rel_t, rtol=0, atol=1e-5)


def test_fit_subsamples_and_checks_samples(surrogate_smplh, library, make_random_rotations):
    rng = np.random.default_rng(1)
    samples = training_samples(rng, make_random_rotations, {'boxtiny': 6})
    with pytest.warns(UserWarning, match='no training samples'):
        arrays = fit_offset_pca(samples,
                                surrogate_smplh,
                                library,
                                pca_dim=2,
                                smpl_anchor_num=2,
                                object_anchor_num=8,
                                max_samples_per_object=4)
    assert arrays['num_samples'][library.index('boxtiny')] == 4 and arrays['human_anchor_indices'].shape == (44, )
    assert arrays['mean_y'].shape == (20, 3 * (44 + 8))
    with pytest.raises(ValueError, match="unknown object 'sofa'"):
        fit_offset_pca([dict(samples[0], object_name='sofa')], surrogate_smplh, library)
    with pytest.raises(KeyError, match=r"sample 1: missing fields \['betas'\]"):
        fit_offset_pca([samples[0], {k: v for k, v in samples[1].items() if k != 'betas'}], surrogate_smplh, library)
    with pytest.raises(ValueError, match=r'sample 1 \(boxtiny\): rel_t has shape \(4,\)'):
        fit_offset_pca([samples[0], dict(samples[1], rel_t=np.zeros(4))], surrogate_smplh, library)
