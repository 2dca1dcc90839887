"""A tiny, deterministic regression task for exercising the training engine.

The StackFLOW model is far too heavy for engine tests (resume, distributed
runs, non-finite skipping, the tools). These components are the smallest
registered pieces that a full mmengine ``Runner`` can train, save, resume and
test on a CPU in well under a second per epoch:

* :class:`ToyDataset` (``DATASETS``): ``y = x @ w + b`` with a fixed seed;
  chosen samples can carry NaN inputs to produce non-finite losses.
* :class:`ToyRegressor` (``MODELS``): one linear layer, MSE loss.
* :class:`ToyMetric` (``METRICS``): mean squared error of the predictions.

Import :mod:`hoirecon.testing` (``custom_imports`` in a config) to register
them; the package's own registries never import this module.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from hoirecon.registry import DATASETS, METRICS, MODELS

ToyBatch = Dict[str, Union[torch.Tensor, Dict[str, torch.Tensor]]]


@DATASETS.register_module()
class ToyDataset(Dataset):
    """Samples of a noise-free linear regression problem.

    Sample ``i`` is ``{'inputs': x_i, 'data_samples': {'target': y_i,
    'index': i}}`` with ``x_i`` a float32 tensor of shape ``(in_dim,)`` drawn
    from N(0, 1) and ``y_i = x_i @ w + b`` of shape ``(1,)``. ``w`` and ``b``
    are drawn from the same seeded generator, so every process (and every
    rank of a distributed run) sees identical data.

    Args:
        num_samples (int): Number of samples. Defaults to 16.
        in_dim (int): Input dimension. Defaults to 4.
        seed (int): Seed of the data generator. Defaults to 0.
        nonfinite_indices (Sequence[int]): Samples whose inputs are NaN, so
            that any batch containing them yields a non-finite loss.
    """

    def __init__(self, num_samples: int = 16, in_dim: int = 4, seed: int = 0, nonfinite_indices: Sequence[int] = ()):
        bad = [i for i in nonfinite_indices if not 0 <= i < num_samples]
        if bad:
            raise ValueError(f'ToyDataset: nonfinite_indices {bad} are outside [0, {num_samples}).')
        rng = np.random.default_rng(seed)
        self.true_weight = rng.standard_normal((in_dim, 1)).astype(np.float32)
        self.true_bias = np.float32(rng.standard_normal())
        inputs = rng.standard_normal((num_samples, in_dim)).astype(np.float32)
        self.targets = torch.from_numpy(inputs @ self.true_weight + self.true_bias)
        inputs[list(nonfinite_indices)] = np.nan
        self.inputs = torch.from_numpy(inputs)

    @property
    def metainfo(self) -> dict:
        """Dataset meta stored in checkpoints; holds numpy values on purpose."""
        return dict(name='toy_regression', true_weight=self.true_weight, true_bias=self.true_bias)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.inputs[index], data_samples=dict(target=self.targets[index], index=index))


@MODELS.register_module()
class ToyRegressor(BaseModel):
    """A linear layer ``(B, in_dim) -> (B, 1)`` trained with the MSE loss.

    Weights start at zero so that runs are reproducible without a seed.

    Args:
        in_dim (int): Input dimension. Defaults to 4.
        data_preprocessor (dict, optional): Passed to ``BaseModel``.
    """

    def __init__(self, in_dim: int = 4, data_preprocessor: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.linear = torch.nn.Linear(in_dim, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[Dict[str, torch.Tensor]] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, Dict[str, torch.Tensor], List[dict]]:
        """Run the layer.

        Args:
            inputs (Tensor): ``(B, in_dim)`` float32.
            data_samples (dict, optional): ``target`` ``(B, 1)`` and ``index``
                ``(B,)``; required by the ``loss`` and ``predict`` modes.
            mode (str): ``'tensor'`` (raw ``(B, 1)`` output), ``'loss'``
                (``{'loss': scalar}``) or ``'predict'`` (one dict with
                ``pred`` and ``target`` per sample).
        """
        pred = self.linear(inputs)
        if mode == 'tensor':
            return pred
        if mode == 'loss':
            return dict(loss=F.mse_loss(pred, data_samples['target']))
        if mode == 'predict':
            return [dict(pred=p, target=t) for p, t in zip(pred.detach(), data_samples['target'])]
        raise ValueError(f"ToyRegressor: mode must be 'tensor', 'loss' or 'predict', got {mode!r}.")


@METRICS.register_module()
class ToyMetric(BaseMetric):
    """Mean squared error between ``pred`` and ``target`` over the dataset."""

    default_prefix = 'toy'

    def process(self, data_batch: ToyBatch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(float(((sample['pred'] - sample['target'])**2).mean()))

    def compute_metrics(self, results: list) -> dict:
        return dict(mse=float(np.mean(results)))
