"""An inter-process lock on a file (serialises builders of caches, datasets and PCA files across ranks)."""
import contextlib
import fcntl
import os
import os.path as osp


@contextlib.contextmanager
def file_lock(path: str):
    """Hold an exclusive ``flock`` on ``path`` (created, with its folder) for the block."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
