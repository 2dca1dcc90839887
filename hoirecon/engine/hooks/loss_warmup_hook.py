"""Loss terms switched on at a given epoch (StackFLOW's translation loss: weight 0 for the first epochs)."""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from hoirecon.registry import HOOKS


@HOOKS.register_module()
class LossWarmupHook(Hook):
    """Keep some terms of the model's loss table at weight 0 before their first epoch.

    StackFLOW trains without the translation loss for the first 30 epochs on BEHAVE (``trans_begin_epoch``; InterCap
    10, BEHAVE-extended 4), then with its configured weight. Before every training epoch this hook sets the scale of
    each term of ``begin_epochs`` in the model's :class:`~hoirecon.models.losses.HOILossTable` (``model.losses``) to 0
    while ``epoch < begin`` and back to 1 from then on (epochs counted from 0, so ``translation=30`` leaves epochs
    0-29 without it); a change is logged. A resumed run gets the scale of the epoch it resumes at.

    Args:
        begin_epochs: ``{term: first epoch with the term}``.
    """

    priority = 'NORMAL'

    def __init__(self, begin_epochs: Dict[str, int]):
        if not begin_epochs or any(int(e) < 0 for e in begin_epochs.values()):
            raise ValueError(f'LossWarmupHook: begin_epochs must map terms to epochs >= 0, got {begin_epochs!r}.')
        self.begin_epochs = {term: int(epoch) for term, epoch in begin_epochs.items()}
        self._current: Dict[str, Optional[float]] = {term: None for term in self.begin_epochs}

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        table = getattr(model, 'losses', None)
        if table is None or not hasattr(table, 'set_scale'):
            raise TypeError(f'LossWarmupHook: {type(model).__name__} has no loss table (model.losses with set_scale); '
                            'use it with HOIReconstructor or drop it from custom_hooks.')
        for term, begin in self.begin_epochs.items():
            if term not in table:
                raise KeyError(f"LossWarmupHook: the model's loss table has no term {term!r}; configured terms: "
                               f'{list(table.bindings)}.')
            scale = 0.0 if runner.epoch < begin else 1.0
            if scale != self._current[term]:
                table.set_scale(term, scale)
                state = 'off until epoch ' + str(begin) if scale == 0 else 'on'
                print_log(f'LossWarmupHook: loss term {term!r} {state} (epoch {runner.epoch}).', logger='current')
                self._current[term] = scale
