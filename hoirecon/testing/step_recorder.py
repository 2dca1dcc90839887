"""A hook that records, per rank, what a training run did (for distributed tests)."""
import json
import os.path as osp
from typing import List, Optional

from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from hoirecon.registry import HOOKS


@HOOKS.register_module()
class ToyStepRecorderHook(Hook):
    """Write ``<work_dir>/steps_rank<R>.json`` when training ends, on every rank.

    The file holds ``rank``, ``world_size``, ``iters`` (optimizer iterations
    run by this process, including resumed ones), ``epochs``, the dataset
    ``indices`` this rank trained on (read from
    ``data_batch['data_samples']['index']`` as :class:`ToyDataset` yields them)
    and ``params`` (the final model parameters, flattened to a list of floats)
    so a test can check that every rank stepped on its own shard and that the
    ranks ended with identical weights.
    """

    def __init__(self):
        self.indices: List[int] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None, outputs=None) -> None:
        self.indices.extend(int(i) for i in data_batch['data_samples']['index'])

    def after_train(self, runner) -> None:
        rank, world_size = get_dist_info()
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        record = dict(rank=rank,
                      world_size=world_size,
                      iters=runner.iter,
                      epochs=runner.epoch,
                      indices=self.indices,
                      params=[float(v) for p in model.parameters() for v in p.detach().flatten()])
        with open(osp.join(runner.work_dir, f'steps_rank{rank}.json'), 'w') as f:
            json.dump(record, f)
