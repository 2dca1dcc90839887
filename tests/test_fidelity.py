"""The paper configs against the official StackFLOW training settings (docs/fidelity.md), one test per setting."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BEHAVE = osp.join(REPO_ROOT, 'configs', 'stackflow_behave.py')


def _learning_rates(cfg, epochs):
    """The learning rate of each epoch under the config's schedulers (epoch-based, as the runner steps them)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=cfg.optim_wrapper.optimizer.lr)
    wrapper = OptimWrapper(optimizer)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper)) for s in cfg.param_scheduler]
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()
    return rates


def test_behave_learning_rate_drops_tenfold_at_epoch_180_of_200():
    cfg = Config.fromfile(BEHAVE)
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1e-4)
    rates = _learning_rates(cfg, 200)
    assert rates[0] == pytest.approx(1e-4) and rates[179] == pytest.approx(1e-4)
    assert rates[180] == pytest.approx(1e-5) and rates[199] == pytest.approx(1e-5)


@pytest.mark.parametrize('name, steps, lr', [('stackflow_behave', 150, 4e-2), ('stackflow_intercap', 300, 5e-2),
                                             ('stackflow_behave_extended', 200, 5e-2)])
def test_post_optimisation_steps_and_learning_rate(name, steps, lr):
    refiner = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'refiners', f'{name}.py')).refiner
    assert (refiner.num_stages, refiner.steps_per_stage) == (2, steps)
    assert refiner.lr == pytest.approx(lr)


def test_behave_training_swaps_voc_backgrounds_with_probability_half(tmp_path):
    cfg = Config.fromfile(BEHAVE)
    pipeline = cfg.train_dataloader.dataset.pipeline
    types = [t.type for t in pipeline]
    assert types.index('HOICrop') < types.index('BackgroundSwap') < types.index('PackHOIInputs')
    swap = pipeline[types.index('BackgroundSwap')]
    assert swap.prob == 0.5 and swap.bg_dir.endswith('VOC2012/JPEGImages')
    assert pipeline[0].type == 'LoadHOIImage' and pipeline[0].with_masks
    assert 'BackgroundSwap' not in [t.type for t in cfg.test_dataloader.dataset.pipeline]
    from hoirecon.datasets.transforms import BackgroundSwap
    with pytest.raises(FileNotFoundError, match=r'VOCtrainval_11-May-2012.tar.*background_dir = None'):
        BackgroundSwap(str(tmp_path / 'VOC2012' / 'JPEGImages'))


def test_sample_joint_loss_is_a_plain_mean_like_the_official_code():
    """Row 5: the flow samples' 2D-joint L1 is `.mean()` over everything; the mode's stays a sum over joints / B."""
    from hoirecon.registry import LOSSES
    losses = Config.fromfile(BEHAVE).model.losses
    assert losses.joints_2d_samples.reduction == 'mean' and losses.joints_2d.reduction == 'sum_per_batch'
    pred, target = torch.randn(6, 22, 2), torch.randn(6, 22, 2)
    loss = LOSSES.build(losses.joints_2d_samples)(pred, target)
    torch.testing.assert_close(loss, 0.01 * (pred - target).abs().mean())


def test_paper_configs_use_the_paper_flow():
    """Row 6: the paper configs build ConditionalGlow's default variant (the official coupling net)."""
    cfg = Config.fromfile(BEHAVE)
    assert cfg.model.head.flow_cfg.get('variant', 'stackflow') == 'stackflow'
    from hoirecon.models.flows import ConditionalGlow
    import inspect
    assert inspect.signature(ConditionalGlow).parameters['variant'].default == 'stackflow'
