"""LossWarmupHook: a loss term at weight 0 before its first epoch, then at its configured weight (StackFLOW's
translation loss from epoch 30)."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from hoirecon.engine.hooks import LossWarmupHook
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS, HOOKS, MODELS
from hoirecon.testing.hoi_batch import make_hoi_batch
from hoirecon.testing.tiny_model import tiny_reconstructor_cfg

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LOSSES = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'stackflow.py')).model.losses.to_dict()


def _losses(model, data):
    torch.manual_seed(0)
    return model(**data, mode='loss')


def test_translation_loss_is_off_before_its_epoch_then_back(surrogate_body_root):
    body = BODY_MODELS.build(dict(type='SMPLH', model_path='surrogate', gender='male'))
    torch.manual_seed(0)
    model = MODELS.build(tiny_reconstructor_cfg(LOSSES, 'StackedFlowHead', None))
    data = model.data_preprocessor(dict(zip(('inputs', 'data_samples'),
                                            make_hoi_batch(body, ObjectLibrary('behave'), 3))), True)
    model.eval()  # deterministic forward: the same numbers each call
    reference = _losses(model, data)
    assert reference['loss_translation'] > 0
    hook = HOOKS.build(dict(type='LossWarmupHook', begin_epochs=dict(translation=2)))
    runner = SimpleNamespace(model=model, epoch=0)
    for epoch, expected_on in ((0, False), (1, False), (2, True), (3, True)):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        losses = _losses(model, data)
        if expected_on:
            torch.testing.assert_close(losses['loss_translation'], reference['loss_translation'])
        else:
            assert losses['loss_translation'] == 0
        for key in reference:  # the other terms are untouched
            if key != 'loss_translation':
                torch.testing.assert_close(losses[key], reference[key])


def test_bad_settings_are_named(surrogate_body_root):
    with pytest.raises(ValueError, match='epochs >= 0'):
        LossWarmupHook(dict(translation=-1))
    model = MODELS.build(tiny_reconstructor_cfg(LOSSES, 'StackedFlowHead', None))
    with pytest.raises(KeyError, match="no term 'trans'"):
        LossWarmupHook(dict(trans=3)).before_train_epoch(SimpleNamespace(model=model, epoch=0))


def test_paper_configs_start_the_translation_loss_at_epoch_30():
    """docs/fidelity.md row 4 (InterCap: 10, BEHAVE-extended: 4 when their configs come)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stackflow_behave.py'))
    assert dict(type='LossWarmupHook', begin_epochs=dict(translation=30)) in cfg.custom_hooks
    assert cfg.model.losses.translation.loss_weight == pytest.approx(0.1)
