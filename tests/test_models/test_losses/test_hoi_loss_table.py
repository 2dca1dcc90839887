"""HOILossTable: the default bindings against hand-computed values, terms added by config, errors."""
import pytest
import torch

from hoirecon.models.losses import DEFAULT_BINDINGS, LOSS_TENSORS, HOILossTable
from hoirecon.registry import LOSSES

STACKFLOW = dict(
    betas=dict(type='MSELoss', loss_weight=0.005, reduction='sum_per_batch'),
    orthogonality=dict(type='Rot6DOrthogonalityLoss', loss_weight=0.1),
    object_reprojection=dict(type='L1Loss', loss_weight=0.01),
    nll_pose=dict(type='NLLLoss', loss_weight=0.001),
    offsets=dict(type='L1Loss', loss_weight=0.01),
)


def test_default_terms_match_hand_computed_values():
    table = LOSSES.build(dict(type='HOILossTable', terms=STACKFLOW))
    tensors = dict(
        betas=torch.tensor([[1.0, 2.0], [0.0, -1.0]]), gt_betas=torch.tensor([[0.0, 0.0], [3.0, 1.0]]),
        # A = [[1, 0], [0, 2], [0, 0]]: A^T A - I = diag(0, 3), mean of the squares over the 2 x 2 entries = 9 / 4
        pose_6d=torch.tensor([[[1.0, 0.0, 0.0, 2.0, 0.0, 0.0]]]),
        object_kpts_2d=torch.tensor([[[0.1, 0.2], [0.5, 0.5], [9.0, 9.0]]]),
        gt_object_kpts_2d=torch.tensor([[[0.0, 0.0], [0.5, 0.1], [0.0, 0.0]]]),
        gt_object_kpts_weights=torch.tensor([[1.0, 1.0, 0.0]]),  # the third keypoint is padding
        log_prob_pose=torch.tensor([-2.0, 4.0, 1.0]))
    losses = table(tensors)
    # no offsets in the tensors (e.g. an encoder without offsets): that term is skipped
    assert list(losses) == ['loss_nll_pose', 'loss_betas', 'loss_orthogonality', 'loss_object_reprojection']
    # sum_per_batch: (1 + 4 + 9 + 4) / 2 images
    assert losses['loss_betas'].item() == pytest.approx(0.005 * 18 / 2)
    assert losses['loss_orthogonality'].item() == pytest.approx(0.1 * 9 / 4)
    # weighted mean over the 2 x 2 coordinates of the real keypoints: (0.1 + 0.2 + 0 + 0.4) / 4
    assert losses['loss_object_reprojection'].item() == pytest.approx(0.01 * 0.7 / 4)
    assert losses['loss_nll_pose'].item() == pytest.approx(0.001 * -1.0)


def test_a_term_added_by_config_names_its_tensors():
    terms = dict(STACKFLOW, offsets=None,
                 kpts_again=dict(type='L1Loss', loss_weight=1.0, pred='object_kpts_2d', target='gt_object_kpts_2d',
                                 weight='gt_object_kpts_weights'),
                 betas_l1=dict(type='L1Loss', loss_weight=2.0, pred='betas', target='gt_betas'))
    table = HOILossTable(terms)
    assert 'offsets' not in table and 'betas_l1' in table
    assert table.needs('gt_object_kpts_weights') and not table.needs('offsets', 'gt_offsets', 'joints_2d')
    gen = torch.Generator().manual_seed(0)
    tensors = {key: torch.randn(2, 5, 2, generator=gen) for key in ('object_kpts_2d', 'gt_object_kpts_2d')}
    tensors.update(gt_object_kpts_weights=torch.tensor([[1., 1., 0., 1., 0.], [1., 0., 0., 0., 0.]]),
                   betas=torch.randn(2, 10, generator=gen), gt_betas=torch.randn(2, 10, generator=gen),
                   pose_6d=torch.randn(2, 22, 6, generator=gen), log_prob_pose=torch.randn(2, generator=gen))
    losses = table(tensors)
    # the default terms first, in their order, then the config's own terms in config order
    assert list(losses)[-2:] == ['loss_kpts_again', 'loss_betas_l1']
    torch.testing.assert_close(losses['loss_kpts_again'], 100 * losses['loss_object_reprojection'])
    torch.testing.assert_close(losses['loss_betas_l1'], 2 * (tensors['betas'] - tensors['gt_betas']).abs().mean())


def test_a_default_term_can_be_rebound_by_config():
    table = HOILossTable(dict(joints_2d=dict(type='L1Loss', target='gt_joints_2d_samples', pred='joints_2d_samples')))
    assert table.bindings['joints_2d'] == ('joints_2d_samples', 'gt_joints_2d_samples', None)
    assert DEFAULT_BINDINGS['joints_2d'] == ('joints_2d', 'gt_joints_2d', None)  # the default is untouched


def test_unknown_terms_and_tensors_are_refused_with_the_known_names():
    with pytest.raises(KeyError, match=r"unknown loss term 'joint_3d'.*'joints_3d'.*pred="):
        HOILossTable(dict(joint_3d=dict(type='L1Loss')))
    with pytest.raises(KeyError, match=r"binds unknown tensors \['joint_3d'\].*'joints_3d'"):
        HOILossTable(dict(mine=dict(type='L1Loss', pred='joint_3d', target='gt_joints_3d')))
    with pytest.raises(KeyError, match='gt_joint'):
        HOILossTable(dict(joints_3d=dict(type='L1Loss', target='gt_joint')))


def test_every_default_binding_reads_documented_tensors_and_the_table_has_no_state():
    assert len(DEFAULT_BINDINGS) == 15
    for name, binding in DEFAULT_BINDINGS.items():
        assert set(binding.keys()) <= set(LOSS_TENSORS), name
    table = HOILossTable({name: dict(type='L1Loss') for name in DEFAULT_BINDINGS})
    assert list(table.state_dict()) == [] and list(table.parameters()) == []
