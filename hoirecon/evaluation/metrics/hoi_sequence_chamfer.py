"""HOI Chamfer metric for videos: one alignment per window of w frames (BEHAVE-extended, InterCap)."""
from collections import defaultdict
from typing import Any, Dict, Hashable, List, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from hoirecon.registry import METRICS
from ..functional.acceleration import acceleration_error, acceleration_magnitude
from ..functional.alignment import WINDOW_MODES
from .hoi_chamfer import HOIChamferMetric, build_hoi_meshes, score_hoi_samples
from .hoi_report import Record, report


def frame_order(sample: Dict[str, Any]) -> Any:
    """Sort key of a frame in its sequence: ``frame_index``, else ``frame`` (``'t0010.000'`` read as 10.0)."""
    value = sample.get('frame_index', sample.get('frame'))
    if value is None:
        raise ValueError(f"sample {sample.get('img_id')!r} has neither 'frame_index' nor 'frame': a sequence metric "
                         'needs the temporal order of frames')
    if isinstance(value, str):
        try:
            return float(value.lstrip('t'))
        except ValueError:
            return value
    return float(value)


@METRICS.register_module()
class HOISequenceChamferMetric(HOIChamferMetric):
    """Windowed HOI Chamfer metric for video datasets.

    Like :class:`HOIChamferMetric`, but the ``'hoi'`` and ``'smpl'`` transforms
    are fitted on the vertices of a window of ``window`` frames of the same
    sequence: ``'sliding'`` (StackFLOW: frame i uses frames [i, i + w)) or
    ``'chunk'`` (non-overlapping chunks share one transform; not VisTracker's rule, see
    :mod:`hoirecon.evaluation.functional.alignment`).
    ``window=1`` equals the per-frame metric.

    Frames are grouped by ``sequence_keys`` (default: ``sequence`` and, when
    present, ``kinect``) and ordered by ``frame_index`` or ``frame``. Skipped
    frames (missing / non-finite) are left out before the windows are formed.
    The samples are kept until the end of the evaluation (parameters are
    small; meshes given as vertices take ~0.2 MB per frame).

    Args:
        window: frames per alignment window (w = 1 or 10 in the papers).
        window_mode: ``'sliding'`` or ``'chunk'``.
        sequence_keys: sample keys whose values together name a sequence.
        **kwargs: the arguments of :class:`HOIChamferMetric`.
    """
    default_prefix = 'hoi_seq_chamfer'

    def __init__(self,
                 window: int = 10,
                 window_mode: str = 'sliding',
                 sequence_keys: Sequence[str] = ('sequence', 'kinect'),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if window < 1:
            raise ValueError(f'window must be >= 1, got {window}')
        if window_mode not in WINDOW_MODES:
            raise ValueError(f'window_mode must be one of {WINDOW_MODES}, got {window_mode!r}')
        self.window = window
        self.window_mode = window_mode
        self.sequence_keys = tuple(sequence_keys)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep the frames (scored in :meth:`compute_metrics`, once whole sequences are known)."""
        self.results.extend(self.selected(data_samples))

    def sequence_name(self, sample: Dict[str, Any]) -> Tuple[Hashable, ...]:
        if self.sequence_keys and sample.get(self.sequence_keys[0]) is None:
            raise ValueError(f"sample {sample.get('img_id')!r} has no {self.sequence_keys[0]!r}; the sequence metric "
                             f'groups frames by {self.sequence_keys}')
        return tuple(sample.get(key) for key in self.sequence_keys)

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str, float]:
        sequences: Dict[Tuple[Hashable, ...], List[Dict[str, Any]]] = defaultdict(list)
        for sample in results:
            sequences[self.sequence_name(sample)].append(sample)
        records: List[Record] = []
        kwargs = dict(self.evaluate_kwargs(), window=self.window, window_mode=self.window_mode)
        for name in tqdm(sorted(sequences, key=str), desc='HOI sequence Chamfer', unit='sequence'):
            frames = sorted(sequences[name], key=frame_order)
            meshes = build_hoi_meshes(frames, self.pred_builder, self.gt_builder)
            sequence_records = score_hoi_samples(frames, self.pred_builder, self.gt_builder, meshes=meshes, **kwargs)
            self._add_acceleration(frames, sequence_records, meshes)
            for record in sequence_records:
                record['sequence'] = '/'.join(str(part) for part in name if part is not None)
                records.append(record)
        protocol = self.protocol(window=self.window,
                                 window_mode=self.window_mode,
                                 sequence_keys=list(self.sequence_keys),
                                 acceleration='mean over vertices of |x[t+1] - 2 x[t] + x[t-1]| (accel) and of its '
                                 'difference to the ground truth (accel_error), camera frame, mm / frame^2, frames '
                                 'whose two neighbours are the adjacent frame_index and scored')
        metrics = report(records, self.alignments, self.visibility_threshold, protocol, self.out_file)
        accel = {}
        for key in ('accel_error_mm', 'accel_mm'):
            for part in ('human', 'object'):
                values = np.array([r[key][part] for r in records if key in r], np.float64)
                values = values[np.isfinite(values)]
                accel[f'{part}_{key[:-3]}'] = float(values.mean()) if len(values) else float('nan')
        accel['num_accel_frames'] = int(sum(np.isfinite(r.get('accel_error_mm', {}).get('human', np.nan))
                                            for r in records))
        print_log(f"Acceleration (mm/frame^2, camera frame, {accel['num_accel_frames']} frames): error human "
                  f"{accel['human_accel_error']:.2f} / object {accel['object_accel_error']:.2f}; predicted "
                  f"human {accel['human_accel']:.2f} / object {accel['object_accel']:.2f}", logger='current')
        metrics.update(accel)
        return metrics

    @staticmethod
    def _add_acceleration(frames: List[Dict[str, Any]], records: List[Record], meshes: tuple) -> None:
        """Per-frame acceleration (mm/frame^2) of the prediction and its error (from the frames' meshes,
        :func:`build_hoi_meshes`), into the scored records."""
        pred_human, pred_object, pred_problems, gt_human, gt_object, gt_problems = meshes
        valid = np.array([p is None and g is None and 'skipped' not in r and len(ph[0]) == len(gh[0]) and
                          len(po[0]) == len(go[0])
                          for p, g, r, ph, gh, po, go in zip(pred_problems, gt_problems, records, pred_human, gt_human,
                                                             pred_object, gt_object)], bool)
        if 'frame_index' in frames[0] and all(f.get('frame_index') is not None for f in frames):
            index = np.array([int(f['frame_index']) for f in frames])
        else:
            index = np.arange(len(frames))
        for part, pred, gt in (('human', pred_human, gt_human), ('object', pred_object, gt_object)):
            shapes = {m[0].shape for m, ok in zip(pred, valid) if ok}
            if len(shapes) != 1:  # no valid frame, or a mesh that changes vertex count within the sequence
                continue
            empty = np.full(shapes.pop(), np.nan)
            pred_v = np.stack([m[0] if ok else empty for m, ok in zip(pred, valid)])
            gt_v = np.stack([m[0] if ok else empty for m, ok in zip(gt, valid)])
            errors = acceleration_error(pred_v, gt_v, index, valid)
            magnitude = acceleration_magnitude(pred_v, index, valid)
            for record, error, value in zip(records, errors, magnitude):
                record.setdefault('accel_error_mm', {})[part] = float(error)
                record.setdefault('accel_mm', {})[part] = float(value)
