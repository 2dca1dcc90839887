"""Make the checkpoints a run writes loadable with ``torch.load(weights_only=True)``."""
from mmengine.hooks import Hook

from hoirecon.registry import HOOKS
from ..plain_checkpoint import from_plain, to_plain


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Store checkpoints as plain containers; rebuild the originals on load.

    ``before_save_checkpoint`` passes every top-level entry of the checkpoint
    (``meta``, ``state_dict``, ``message_hub``, ``optimizer``,
    ``param_schedulers``...) through :func:`~hoirecon.engine.to_plain`, so the
    file holds only tensors, numbers, strings and containers and loads under
    hoirecon's weights-only loader without an opt-in.

    ``after_load_checkpoint`` applies :func:`~hoirecon.engine.from_plain`.
    mmengine 0.10.7's ``Runner.resume`` calls it inside
    ``Runner.load_checkpoint``, i.e. before it reads ``meta['epoch']`` /
    ``meta['iter']`` and before ``message_hub.load_state_dict``, the
    optimizer and the parameter schedulers: all of them receive the rebuilt
    objects (``HistoryBuffer``, numpy values) and the schedule continues
    exactly. Checkpoints written without this hook load unchanged.

    The priority is ``LOWEST`` so that conversion runs after every other
    hook has added its entries to the checkpoint; hooks that read the loaded
    checkpoint in ``after_load_checkpoint`` therefore see the plain form of
    non-tensor entries.
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = to_plain(checkpoint[key], path=f'checkpoint[{key!r}]')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = from_plain(checkpoint[key])
