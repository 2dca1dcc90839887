"""Keeps torch's CPU threads at the cores other programs leave free, while training or testing."""
from typing import Optional

from mmengine.hooks import Hook

from hoirecon.engine.threads import ThreadGovernor
from hoirecon.registry import HOOKS


@HOOKS.register_module()
class AdaptiveThreadsHook(Hook):
    """Every ``interval`` iterations, :meth:`ThreadGovernor.update` (train, val and test loops).

    Added by ``tools/train.py`` / ``tools/test.py`` when the thread count is not fixed by ``--threads`` or
    ``HOIRECON_NUM_THREADS``; a change is logged once per new value.

    Args:
        interval: iterations between measurements (a step of the CPU default takes about 1 s).
        max_threads: threads on an otherwise idle machine (default: the cores this process may use).
    """
    priority = 'VERY_LOW'

    def __init__(self, interval: int = 10, max_threads: Optional[int] = None):
        self.interval = int(interval)
        self.governor = ThreadGovernor(max_threads)
        self._logged = None

    def _update(self, runner, batch_idx: int) -> None:
        if not self.governor.enabled or (batch_idx + 1) % self.interval:
            return
        threads = self.governor.update()
        if threads != self._logged:
            if self._logged is not None:
                runner.logger.info(f'CPU threads: {threads} (other programs use {self.governor.other_cores:.1f} '
                                   f'of the cores)')
            self._logged = threads

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update(runner, batch_idx)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update(runner, batch_idx)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update(runner, batch_idx)
