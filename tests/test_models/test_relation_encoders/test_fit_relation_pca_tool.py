"""tools/fit_relation_pca.py on a tiny BEHAVE-layout dataset written here (world-frame fits only)."""
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.models.body_models import SMPLH
from hoirecon.models.relation_encoders import OffsetPCA, human_anchors_in_hoi_frame
from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
#: sequence -> (split, gender, number of frames)
SEQUENCES = {
    'Date01_Sub01_boxsmall': ('train', 'male', 3),
    'Date03_Sub06_boxsmall_hand': ('train', 'female', 2),
    'Date02_Sub02_boxsmall': ('test', 'male', 2),
}


@pytest.fixture(scope='module')
def tool():
    return load_tool('fit_relation_pca')


def write_pickle(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        pickle.dump({key: np.asarray(value, np.float32) for key, value in data.items()}, f)


def write_dataset(root, surrogate_body_root, make_random_rotations):
    """World-frame SMPL-H and object fits built from known relative poses; returns the training frames."""
    rng = np.random.default_rng(0)
    bodies = {gender: SMPLH(surrogate_body_root, gender=gender) for gender in ('male', 'female')}
    split, frames = {'train': [], 'test': []}, []
    for seq, (part, gender, num_frames) in SEQUENCES.items():
        split[part].append(seq)
        seq_dir = osp.join(root, 'sequences', seq)
        os.makedirs(seq_dir)
        with open(osp.join(seq_dir, 'info.json'), 'w') as f:
            json.dump(
                {
                    'config': '../../calibs/Date01/config',
                    'intrinsic': '../../calibs/intrinsics',
                    'cat': 'boxsmall',
                    'gender': gender,
                    'kinects': [0, 1, 2, 3]
                }, f)
        for i in range(num_frames):
            frame_dir = osp.join(seq_dir, f't{3 + i:04d}.000')
            pose = np.concatenate([rng.normal(scale=0.8, size=3), rng.normal(scale=0.2, size=63), np.zeros(90)])
            betas, trans = rng.normal(scale=0.5, size=10), rng.normal(size=3)
            rel_R, rel_t = make_random_rotations(rng, 1)[0], rng.normal(scale=0.3, size=3)
            root_joint = bodies[gender].rest_root_joint(torch.as_tensor(betas)[None])[0].numpy() + trans
            orient = Rotation.from_rotvec(pose[:3]).as_matrix()
            write_pickle(osp.join(frame_dir, 'person', 'fit02', 'person_fit.pkl'),
                         dict(pose=pose, betas=betas, trans=trans))
            write_pickle(
                osp.join(frame_dir, 'boxsmall', 'fit01', 'boxsmall_fit.pkl'),
                dict(angle=Rotation.from_matrix(orient @ rel_R).as_rotvec(), trans=orient @ rel_t + root_joint))
            if part == 'train':
                frames.append(
                    dict(rel_R=rel_R,
                         rel_t=rel_t,
                         betas=betas,
                         body_pose=Rotation.from_rotvec(pose[3:66].reshape(21, 3)).as_matrix()))
    with open(osp.join(root, 'split.json'), 'w') as f:
        json.dump(split, f)
    return frames


def test_cli_fits_the_training_split_with_exact_relative_poses(tool, tmp_path, capsys, surrogate_body_root,
                                                               surrogate_smplh, make_random_rotations):
    frames = write_dataset(str(tmp_path / 'behave'), surrogate_body_root, make_random_rotations)
    out = str(tmp_path / 'out' / 'pca.npz')
    with pytest.warns(UserWarning, match='no training samples'):
        tool.main([
            '--data-root',
            str(tmp_path / 'behave'), '--out', out, '--body-model-path', surrogate_body_root, '--pca-dim', '4',
            '--betas', 'raw'
        ])
    table = capsys.readouterr().out
    assert any(line.split()[1:4] == ['boxsmall', '5', '4'] for line in table.splitlines()[1:])

    enc = OffsetPCA(out, pca_dim=4)
    label = enc.object_names.index('boxsmall')
    assert int(enc.num_samples.sum()) == int(enc.num_samples[label]) == 5  # test split left out

    def stack(key):
        return torch.as_tensor(np.stack([frame[key] for frame in frames]))

    labels = torch.full((5, ), label)
    human = human_anchors_in_hoi_frame(surrogate_smplh, stack('betas'), stack('body_pose'), enc.human_anchor_indices)
    # 5 training frames, pca_dim 4: every frame lies in the PCA span, so its relative pose comes back
    dec_R, dec_t = enc.decode(enc.encode(stack('rel_R'), stack('rel_t'), labels, human), labels, human)
    torch.testing.assert_close(dec_R, stack('rel_R'), rtol=0, atol=1e-5)
    torch.testing.assert_close(dec_t, stack('rel_t'), rtol=0, atol=1e-5)


def test_cli_rejects_an_output_that_is_not_npz(tool):
    with pytest.raises(SystemExit):
        tool.parse_args(['--data-root', 'x', '--out', 'pca.pkl'])


def test_refitted_male_betas_replace_the_female_subjects_shapes(tmp_path, surrogate_body_root, make_random_rotations):
    """StackFLOW's PCA samples carry the male-refitted betas that training encodes with (the annotation cache's
    betas_male): female sequences get fit_male_betas' result, male ones keep their own."""
    from hoirecon.apis.relation_pca import read_relative_poses
    from hoirecon.datasets import annotations
    root = str(tmp_path / 'behave')
    frames = write_dataset(root, surrogate_body_root, make_random_rotations)
    cfg = dict(type='SMPLH', model_path=surrogate_body_root)
    raw = read_relative_poses(root, 'train', cfg, betas='raw')
    refit = read_relative_poses(root, 'train', cfg, betas='refitted_male')
    assert len(raw) == len(refit) == len(frames) == 5
    sequences = [annotations.read_sequence_fits(root, name, kinects=()) for name, (part, _, _) in SEQUENCES.items()
                 if part == 'train']
    expected, _ = annotations.fit_male_betas(annotations.BodyModelSet(dict(cfg, gender='male')), sequences,
                                             annotations.DEFAULT_FIT_CFG)
    genders = [seq.gender for seq in sequences for _ in seq.frames]
    assert 'female' in genders and 'male' in genders
    for sample_raw, sample_refit, gender in zip(raw, refit, genders):
        np.testing.assert_array_equal(sample_raw['rel_R'], sample_refit['rel_R'])  # the HOI frame is the subject's
        if gender == 'male':
            np.testing.assert_array_equal(sample_refit['betas'], sample_raw['betas'])
        else:
            key = ('female', sample_raw['betas'].astype(np.float32).tobytes())
            np.testing.assert_allclose(sample_refit['betas'], expected[key], rtol=1e-6)
            assert not np.allclose(sample_refit['betas'], sample_raw['betas'], atol=1e-3)
    with pytest.raises(ValueError, match="'refitted_male', 'raw'"):
        read_relative_poses(root, 'train', cfg, betas='female')
