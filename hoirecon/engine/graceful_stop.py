"""Stopping a run cleanly: Ctrl-C and SIGTERM end ``tools/train.py`` without stray workers or a torn checkpoint.

Python ends a process on SIGTERM at once, without unwinding: data-loader workers are left to notice by themselves
that their parent is gone, and a checkpoint being written stays half-written. :func:`install_stop_handlers` turns
SIGTERM into the same ``KeyboardInterrupt`` as Ctrl-C, so the run unwinds (the data loaders shut their workers
down, ``multiprocessing`` ends the daemonic ones at exit), and :func:`defer_stop` holds both signals back while a
checkpoint is written: the stop takes effect right after the file (and mmengine's ``last_checkpoint`` pointer) is
complete, so ``--resume`` always finds a whole checkpoint.
"""
import contextlib
import functools
import signal
import threading

_state = threading.local()


class StopRequested(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM or SIGINT asks the run to stop."""


def _handler(signum, frame):
    if getattr(_state, 'deferring', 0):
        _state.pending = signum
        return
    raise StopRequested(f'stopped by signal {signal.Signals(signum).name}')


def install_stop_handlers() -> None:
    """Route SIGINT and SIGTERM of the main thread to :class:`StopRequested` (honouring :func:`defer_stop`)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _handler)


@contextlib.contextmanager
def defer_stop():
    """Hold SIGINT / SIGTERM back inside the block; a stop that arrived meanwhile is raised when it ends."""
    _state.deferring = getattr(_state, 'deferring', 0) + 1
    try:
        yield
    finally:
        _state.deferring -= 1
        pending = getattr(_state, 'pending', None)
        if not _state.deferring and pending is not None:
            _state.pending = None
            raise StopRequested(f'stopped by signal {signal.Signals(pending).name} (after the checkpoint was '
                                'written)')


def make_checkpoints_uninterruptible(runner) -> None:
    """Wrap ``runner.save_checkpoint`` (which the CheckpointHook calls) and the hook's ``last_checkpoint`` update in
    :func:`defer_stop`."""
    save = runner.save_checkpoint

    @functools.wraps(save)
    def save_whole(*args, **kwargs):
        with defer_stop():
            return save(*args, **kwargs)

    runner.save_checkpoint = save_whole
    for hook in runner.hooks:
        if type(hook).__name__ == 'CheckpointHook':
            step = hook._save_checkpoint_with_step

            @functools.wraps(step)
            def step_whole(*args, _step=step, **kwargs):
                with defer_stop():
                    return _step(*args, **kwargs)

            hook._save_checkpoint_with_step = step_whole
