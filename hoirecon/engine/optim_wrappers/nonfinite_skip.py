"""Optimizer wrappers that skip the step when the loss or the gradients are not finite.

One NaN batch (a degenerate crop, a zero-area mask, a flow log-det overflow)
is enough to turn every weight into NaN with a plain ``OptimWrapper``. These
wrappers check the loss, and the gradients after ``backward`` and before the
step, for NaN/Inf. A bad optimizer step is dropped: the gradients are zeroed,
the optimizer (and its state: Adam moments, step count) is left untouched,
a warning is logged on the 1st, 2nd, 4th, 8th... skip, and the running total
is kept in the message hub scalar ``train/nonfinite_skipped``, which the
``LoggerHook`` prints with every training log line and which is saved with
(and resumed from) the checkpoint.

In distributed runs the decision is reduced over the ranks (one scalar
``all_reduce`` per step), so all ranks skip or step together and the replicas
never diverge.
"""
import logging
from typing import Dict, Iterable, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from hoirecon.registry import OPTIM_WRAPPERS

#: Message-hub scalar holding the number of optimizer steps skipped so far.
NONFINITE_COUNTER = 'train/nonfinite_skipped'


def is_finite(tensor: torch.Tensor) -> bool:
    """Whether every element of ``tensor`` is finite (no NaN, no +-Inf)."""
    return bool(torch.isfinite(tensor).all())


def grads_are_finite(params: Iterable[torch.Tensor]) -> bool:
    """Whether the ``.grad`` of every parameter that has one is finite.

    Synchronises with the device once, however many parameters there are.
    """
    flags = [torch.isfinite(p.grad).all() for p in params if p.grad is not None]
    if not flags:
        return True
    return bool(torch.stack([f.to(flags[0].device) for f in flags]).all())


def any_rank(flag: bool) -> bool:
    """``flag`` OR-reduced over all ranks (``flag`` itself when not distributed)."""
    if get_world_size() == 1:
        return flag
    reduced = torch.tensor([float(flag)])
    all_reduce(reduced, op='max')
    return bool(reduced.item())


class NonFiniteSkipMixin:
    """The skipping logic, shared by the fp32 and the AMP wrapper.

    It replaces ``update_params``: ``backward`` always runs (so that DDP's
    gradient all-reduce happens on every rank), and at each optimizer step
    (every ``accumulative_counts`` iterations) the step runs only if the
    losses of the accumulation window and, when :attr:`check_grads` is set,
    the gradients were finite on every rank.
    """

    #: Check gradients as well as the loss before stepping.
    check_grads: bool = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._window_has_nonfinite_loss = False

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward ``loss``; step the optimizer unless something was not finite.

        Args:
            loss (Tensor): Scalar loss of the current iteration.
            step_kwargs (dict, optional): Passed to ``step``.
            zero_kwargs (dict, optional): Passed to ``zero_grad``.
        """
        loss = self.scale_loss(loss)
        self._window_has_nonfinite_loss |= not is_finite(loss.detach())
        self.backward(loss)
        skipped = self.num_skipped
        if self.should_update():
            reason = self._nonfinite_reason()
            if reason is None:
                self.step(**(step_kwargs or {}))
            else:
                skipped += 1
                self._warn_skip(reason, skipped)
            self.zero_grad(**(zero_kwargs or {}))
            self._window_has_nonfinite_loss = False
        self.message_hub.update_scalar(NONFINITE_COUNTER, skipped)

    @property
    def num_skipped(self) -> int:
        """Optimizer steps skipped so far in this run (resumed runs included)."""
        if NONFINITE_COUNTER not in self.message_hub.log_scalars:
            return 0
        return int(self.message_hub.get_scalar(NONFINITE_COUNTER).current())

    def _nonfinite_reason(self) -> Optional[str]:
        """What was not finite in this accumulation window, on any rank; ``None`` if all was."""
        if self._window_has_nonfinite_loss:
            reason = 'loss'
        elif self.check_grads and not grads_are_finite(self._params()):
            reason = 'gradients'
        else:
            reason = None
        if any_rank(reason is not None) and reason is None:
            reason = 'loss or gradients on another rank'
        return reason

    def _params(self) -> Iterable[torch.Tensor]:
        return (p for group in self.optimizer.param_groups for p in group['params'])

    def _warn_skip(self, reason: str, skipped: int) -> None:
        """Log the ``skipped``-th skip, only when ``skipped`` is 1, 2, 4, 8... (rate limit)."""
        if skipped & (skipped - 1):
            return
        iteration = self.message_hub.get_info('iter')
        where = '' if iteration is None else f' at iteration {iteration + 1}'
        print_log(
            f'Non-finite {reason}{where}: skipped the optimizer step and zeroed the gradients '
            f'({skipped} step(s) skipped so far; the running total is logged as {NONFINITE_COUNTER}). '
            'Frequent skips point at bad samples or a too-high learning rate.',
            logger='current',
            level=logging.WARNING)


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipOptimWrapper(NonFiniteSkipMixin, OptimWrapper):
    """``OptimWrapper`` that skips steps with a non-finite loss or gradients.

    Takes the same arguments as :class:`mmengine.optim.OptimWrapper`
    (``optimizer``, ``accumulative_counts``, ``clip_grad``). Gradients are
    checked before clipping.

    Examples:
        >>> optim_wrapper = dict(
        ...     type='NonFiniteSkipOptimWrapper',
        ...     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
        ...     clip_grad=dict(max_norm=10.0))
    """


@OPTIM_WRAPPERS.register_module()
class NonFiniteSkipAmpOptimWrapper(NonFiniteSkipMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` (CUDA only) that skips steps with a non-finite loss.

    Gradients are not checked here: with a dynamic loss scale, overflowing
    gradients are routine while the scale calibrates, and the ``GradScaler``
    already skips those steps and lowers the scale. A non-finite *loss* is
    skipped without touching the scaler, so it does not shrink the scale.
    ``tools/train.py --amp`` selects this wrapper when the config uses
    :class:`NonFiniteSkipOptimWrapper`.
    """

    check_grads = False
