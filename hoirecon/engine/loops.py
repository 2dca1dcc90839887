"""``SequenceTestLoop``: mmengine's test loop, with the frames of each camera of each sequence smoothed together.

The network (and the per-frame ``refiner``) run batch by batch as in :class:`mmengine.runner.TestLoop`; the outputs
are held back until every frame of one camera of one sequence has been predicted, then
:meth:`hoirecon.models.reconstructors.HOIReconstructor.refine_sequence` smooths them and the evaluator scores them.
The dataset must give the frames of a camera of a sequence as one contiguous run (``BEHAVEExtendedDataset`` orders
them by sequence, kinect and time); the loop says so when they are not.
"""
from typing import Dict, Hashable, List, Sequence, Tuple

import torch
from mmengine.dist import get_world_size
from mmengine.runner import TestLoop
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _update_losses

from hoirecon.registry import LOOPS


@LOOPS.register_module()
class SequenceTestLoop(TestLoop):
    """Test loop that runs the model's ``sequence_refiner`` on each camera of each sequence before scoring.

    Args:
        runner, dataloader, evaluator, fp16: as :class:`mmengine.runner.TestLoop`.
        sequence_keys: metainfo keys whose values together name one camera of one sequence.

    A model without a ``sequence_refiner`` is scored frame by frame, as by ``TestLoop``. Hooks see each batch as the
    network (and per-frame refiner) left it; the evaluator sees the smoothed frames. Runs in one process (a
    distributed sampler would cut the sequences between processes).
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 sequence_keys: Sequence[str] = ('sequence', 'kinect')):
        super().__init__(runner, dataloader, evaluator, fp16)
        self.sequence_keys = tuple(sequence_keys)
        self._pending: List = []
        self._pending_key = None
        self._finished = set()

    @property
    def _model(self):
        model = self.runner.model
        return getattr(model, 'module', model)

    def run(self) -> dict:
        if get_world_size() > 1 and getattr(self._model, 'sequence_refiner', None) is not None:
            raise RuntimeError('SequenceTestLoop: sequence smoothing runs in one process (a distributed sampler '
                               'splits the sequences between processes); run tools/test.py without a launcher.')
        self._pending, self._pending_key, self._finished = [], None, set()
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        self.test_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        self._flush()
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    def sequence_key(self, sample) -> Tuple[Hashable, ...]:
        """The camera-of-a-sequence a sample belongs to (its ``sequence_keys`` metainfo values)."""
        missing = [key for key in self.sequence_keys if key not in sample.metainfo]
        if missing:
            raise KeyError(f"SequenceTestLoop: sample {sample.metainfo.get('img_id')!r} has no {missing} metainfo; "
                           f'the loop groups frames by {list(self.sequence_keys)} (PackHOIInputs meta_keys).')
        return tuple(sample.metainfo[key] for key in self.sequence_keys)

    @torch.no_grad()
    def run_iter(self, idx, data_batch: Dict) -> None:
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.test_step(data_batch)
        outputs, self.test_loss = _update_losses(outputs, self.test_loss)
        if getattr(self._model, 'sequence_refiner', None) is None:
            self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        else:
            for sample in outputs:
                self._add(sample)
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)

    def _add(self, sample) -> None:
        key = self.sequence_key(sample)
        if key != self._pending_key:
            self._flush()
            if key in self._finished:
                raise RuntimeError(f'SequenceTestLoop: the frames of {dict(zip(self.sequence_keys, key))} are not '
                                   'consecutive in the dataset; the sequence refiner needs each camera of each '
                                   'sequence as one run of frames (order the dataset by sequence, kinect and time, as '
                                   'BEHAVEExtendedDataset does, and keep the sampler unshuffled).')
            self._pending_key = key
        self._pending.append(sample)

    def _flush(self) -> None:
        """Smooth and score the frames held back (one camera of one sequence)."""
        if not self._pending:
            return
        samples = self._model.refine_sequence(self._pending)
        self.evaluator.process(data_samples=samples, data_batch=None)
        self._finished.add(self._pending_key)
        self._pending, self._pending_key = [], None
