"""HOI Chamfer metric for videos: one alignment per window of w frames (BEHAVE-extended, InterCap)."""
from collections import defaultdict
from typing import Any, Dict, Hashable, List, Sequence, Tuple

from tqdm import tqdm

from hoirecon.registry import METRICS
from ..functional.alignment import WINDOW_MODES
from .hoi_chamfer import HOIChamferMetric, score_hoi_samples
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
            for record in score_hoi_samples(frames, self.pred_builder, self.gt_builder, **kwargs):
                record['sequence'] = '/'.join(str(part) for part in name if part is not None)
                records.append(record)
        protocol = self.protocol(window=self.window,
                                 window_mode=self.window_mode,
                                 sequence_keys=list(self.sequence_keys))
        return report(records, self.alignments, self.visibility_threshold, protocol, self.out_file)
