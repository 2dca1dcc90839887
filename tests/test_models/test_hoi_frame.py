"""The HOI frame module: its maths against the body model's own posing, and that every user goes through it."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from hoirecon.models.utils import axis_angle_to_matrix, hoi_frame
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS, MODELS
from hoirecon.testing.hoi_batch import make_hoi_batch
from hoirecon.testing.tiny_model import tiny_reconstructor_cfg

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LOSSES = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'stackflow.py')).model.losses.to_dict()
FUNCTIONS = ('root_relative', 'body_in_hoi_frame', 'human_anchors', 'human_anchors_in_hoi_frame',
             'compose_object_pose', 'decompose_object_pose', 'body_translation', 'hoi_root', 'to_camera')


@pytest.fixture(scope='module')
def body(surrogate_body_root):
    return BODY_MODELS.build(dict(type='SMPLH', model_path='surrogate', gender='male'))


def _random_poses(batch, seed=0):
    gen = torch.Generator().manual_seed(seed)
    rot = lambda *shape: axis_angle_to_matrix(0.6 * torch.randn(*shape, 3, generator=gen, dtype=torch.float64))  # noqa
    return dict(hoi_R=rot(batch), hoi_t=torch.randn(batch, 3, generator=gen, dtype=torch.float64),
                object_R=rot(batch), object_t=torch.randn(batch, 3, generator=gen, dtype=torch.float64),
                body_pose=axis_angle_to_matrix(0.2 * torch.randn(batch, 21, 3, generator=gen, dtype=torch.float64)),
                betas=0.5 * torch.randn(batch, 10, generator=gen, dtype=torch.float64))


def test_compose_inverts_decompose_and_matches_the_definition():
    p = _random_poses(5)
    rel_R, rel_t = hoi_frame.decompose_object_pose(p['hoi_R'], p['hoi_t'], p['object_R'], p['object_t'])
    for i in range(5):  # R_rel = R_g^T R_obj, t_rel = R_g^T (t_obj - J0), one image at a time in numpy
        R_g = p['hoi_R'][i].numpy()
        np.testing.assert_allclose(rel_R[i].numpy(), R_g.T @ p['object_R'][i].numpy(), atol=1e-12)
        np.testing.assert_allclose(rel_t[i].numpy(), R_g.T @ (p['object_t'][i] - p['hoi_t'][i]).numpy(), atol=1e-12)
    object_R, object_t = hoi_frame.compose_object_pose(p['hoi_R'], p['hoi_t'], rel_R, rel_t)
    torch.testing.assert_close(object_R, p['object_R'])
    torch.testing.assert_close(object_t, p['object_t'])


def test_hoi_frame_body_placed_in_the_camera_equals_the_body_model_posed_there(body):
    """to_camera(body in the HOI frame) == the body model posed with global_orient and body_translation."""
    p = _random_poses(3, seed=1)
    body = body.double()
    vertices_rel, joints_rel = hoi_frame.body_in_hoi_frame(body, p['betas'], p['body_pose'])
    torch.testing.assert_close(joints_rel[:, 0], torch.zeros(3, 3, dtype=torch.float64))
    transl = hoi_frame.body_translation(body, p['betas'], p['hoi_t'])
    posed = body(betas=p['betas'], global_orient=p['hoi_R'], body_pose=p['body_pose'], transl=transl)
    torch.testing.assert_close(hoi_frame.to_camera(vertices_rel, p['hoi_R'], p['hoi_t']), posed.vertices)
    torch.testing.assert_close(posed.joints[:, 0], p['hoi_t'])  # the posed root joint is J0
    torch.testing.assert_close(hoi_frame.hoi_root(body, p['betas'], transl), p['hoi_t'])
    indices = torch.tensor([0, 17, 400, 6000])
    torch.testing.assert_close(hoi_frame.human_anchors_in_hoi_frame(body, p['betas'], p['body_pose'], indices),
                               vertices_rel[:, indices])


@pytest.fixture
def calls(monkeypatch):
    """Spies on every function of hoi_frame: the names called since the last ``clear()``."""
    seen = []
    for name in FUNCTIONS:
        original = getattr(hoi_frame, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            seen.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(hoi_frame, name, spy)
    return seen


def test_every_user_goes_through_the_hoi_frame_module(calls, body, behave_synthetic_root, tmp_path):
    from hoirecon.apis.relation_pca import read_relative_poses
    from hoirecon.datasets.annotations import build_annotations
    from hoirecon.models.refiners import StackFLOWRefiner
    from hoirecon.models.relation_encoders import fit_offset_pca
    library = ObjectLibrary('behave')

    def used(action) -> set:
        calls.clear()
        action()
        return set(calls)

    # the synthetic test batch: targets composed in the HOI frame
    batch = {}

    def make_batch():
        batch['inputs'], batch['samples'] = make_hoi_batch(body, library, batch_size=2, num_correspondences=32, seed=3)

    assert {'compose_object_pose', 'body_translation'} <= used(make_batch)
    # the relation-PCA samples of a BEHAVE-layout dataset and the annotation cache (training targets)
    body_cfg = dict(type='SMPLH', model_path='surrogate', gender='male')
    samples = []
    assert {'hoi_root', 'decompose_object_pose'} <= used(
        lambda: samples.extend(read_relative_poses(behave_synthetic_root, 'train', body_cfg)))
    assert 'decompose_object_pose' in used(lambda: build_annotations(
        behave_synthetic_root, 'test', kinects=(1, ), body_model=body_cfg, annotation_dir=str(tmp_path),
        workers=0, progress=False))
    # the offset PCA fit
    assert 'human_anchors_in_hoi_frame' in used(
        lambda: fit_offset_pca(samples, body, library, pca_dim=2, smpl_anchor_num=2, object_anchor_num=8))
    # training loss and decoding of the reconstructor
    torch.manual_seed(0)
    model = MODELS.build(tiny_reconstructor_cfg(LOSSES)).eval()
    data = model.data_preprocessor(dict(inputs=batch['inputs'], data_samples=copy.deepcopy(batch['samples'])), True)
    assert {'body_in_hoi_frame', 'human_anchors', 'compose_object_pose', 'to_camera'} <= used(
        lambda: model.loss(data['inputs'], data['data_samples']))
    data = model.data_preprocessor(dict(inputs=batch['inputs'], data_samples=copy.deepcopy(batch['samples'])), False)
    assert {'body_in_hoi_frame', 'human_anchors', 'compose_object_pose', 'body_translation',
            'to_camera'} <= used(lambda: model.predict(data['inputs'], data['data_samples']))
    # the refiner: start (decompose), steps (compose) and result (body translation, camera vertices)
    model.refiner = StackFLOWRefiner(num_stages=1, steps_per_stage=2)
    data = model.data_preprocessor(dict(inputs=batch['inputs'], data_samples=copy.deepcopy(batch['samples'])), False)
    assert {'decompose_object_pose', 'compose_object_pose', 'root_relative', 'body_in_hoi_frame',
            'body_translation', 'to_camera'} <= used(lambda: model.predict(data['inputs'], data['data_samples']))
