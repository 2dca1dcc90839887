"""Runner-side pieces: checkpoint loading policy and plain checkpoints, hooks, the sequence test loop, optimizer
wrappers, launch setup."""
from . import checkpoint_compat  # noqa: F401
from .checkpoint_compat import (UnsafeCheckpointError, allow_unsafe_checkpoints, hoirecon_checkpoint_loading,
                                load_checkpoint_file)
from .hooks import SafeCheckpointHook
from .loops import SequenceTestLoop
from .optim_wrappers import NONFINITE_COUNTER, NonFiniteSkipAmpOptimWrapper, NonFiniteSkipOptimWrapper
from .plain_checkpoint import from_plain, to_plain
from .runtime_setup import enable_amp, fix_dataloader_workers, setup_distributed
from .threads import (ThreadGovernor, adapt_threads_by_default, configure_threads, limit_worker_threads,
                      thread_report)

__all__ = [
    'UnsafeCheckpointError', 'allow_unsafe_checkpoints', 'hoirecon_checkpoint_loading', 'load_checkpoint_file',
    'SafeCheckpointHook', 'SequenceTestLoop',
    'NONFINITE_COUNTER', 'NonFiniteSkipAmpOptimWrapper', 'NonFiniteSkipOptimWrapper', 'from_plain', 'to_plain',
    'ThreadGovernor', 'adapt_threads_by_default', 'enable_amp', 'fix_dataloader_workers', 'setup_distributed',
    'configure_threads', 'limit_worker_threads', 'thread_report'
]
