"""Per-frame HOI Chamfer metric (CHORE / StackFLOW / CONTHO protocol)."""
from typing import Any, Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from hoirecon.registry import METRICS
from hoirecon.version import __version__
from ..functional.hoi_frames import ALIGNMENTS, evaluate_hoi_frames
from ..functional.visibility import DEFAULT_VISIBILITY_THRESHOLD
from .hoi_meshes import HOIMeshBuilder, sample_to_dict
from .hoi_report import Record, report


def build_hoi_meshes(samples: Sequence[Dict[str, Any]], pred_builder: HOIMeshBuilder,
                     gt_builder: HOIMeshBuilder) -> tuple:
    """``(pred humans, pred objects, pred problems, gt humans, gt objects, gt problems)`` of the samples
    (:meth:`HOIMeshBuilder.build` of both sides)."""
    return (*pred_builder.build(samples, 'pred_instances'), *gt_builder.build(samples, 'gt_instances'))


def score_hoi_samples(samples: Sequence[Dict[str, Any]], pred_builder: HOIMeshBuilder, gt_builder: HOIMeshBuilder,
                      meshes: Optional[tuple] = None, **evaluate_kwargs) -> List[Record]:
    """Build the meshes of data samples and score them with :func:`evaluate_hoi_frames`.

    Frames whose prediction or ground truth is missing, non-finite, or whose
    human meshes differ in vertex count (the alignments need correspondences)
    get a ``skipped`` reason instead of errors; they never stop the run.

    Args:
        samples: flat sample dicts (see :func:`sample_to_dict`), in sequence
            order when ``evaluate_kwargs`` has a window.
        pred_builder: builds the predicted meshes.
        gt_builder: builds the ground-truth meshes.
        meshes: the samples' meshes from :func:`build_hoi_meshes` when the caller built them already (the sequence
            metric reuses them for the acceleration); None builds them here.
        **evaluate_kwargs: passed to :func:`evaluate_hoi_frames` (``alignments``,
            ``num_samples``, ``seed``, ``window``, ...).

    Returns:
        One record per sample (see :mod:`.hoi_report`).
    """
    pred_human, pred_object, pred_problems, gt_human, gt_object, gt_problems = (
        build_hoi_meshes(samples, pred_builder, gt_builder) if meshes is None else meshes)
    alignments = evaluate_kwargs.get('alignments', ALIGNMENTS)
    records, valid = [], []
    for i, sample in enumerate(samples):
        visibility = sample.get('visibility')
        record = dict(img_id=str(sample.get('img_id', i)),
                      object_name=sample.get('object_name'),
                      visibility=None if visibility is None else float(visibility))
        problem = pred_problems[i] or gt_problems[i]
        if problem is None and set(alignments) != {'none'} and len(pred_human[i][0]) != len(gt_human[i][0]):
            problem = f'human vertex counts differ ({len(pred_human[i][0])} vs {len(gt_human[i][0])})'
        if problem is None:
            valid.append(i)
        else:
            record['skipped'] = problem
        records.append(record)
    if valid:
        errors = evaluate_hoi_frames([pred_human[i] for i in valid], [pred_object[i] for i in valid],
                                     [gt_human[i] for i in valid], [gt_object[i] for i in valid],
                                     frame_keys=[records[i]['img_id'] for i in valid],
                                     **evaluate_kwargs)
        for row, i in enumerate(valid):
            records[i]['chamfer_cm'] = {
                alignment: {
                    part: float(values[row])
                    for part, values in parts.items()
                }
                for alignment, parts in errors.chamfer_cm.items()
            }
            records[i]['hoi_fallback'] = bool(errors.hoi_fallback[row])
    return records


@METRICS.register_module()
class HOIChamferMetric(BaseMetric):
    """Chamfer distance (cm) of the human and the object, per frame, under each alignment.

    The protocol of CHORE, StackFLOW, CONTHO and HOI-TG (``docs/evaluation.md``):
    ``num_samples`` area-weighted surface samples per mesh, Euclidean
    nearest-neighbour distances, Chamfer = SUM of the two one-sided means; the
    ``'hoi'`` alignment (headline) fits one similarity transform on the
    [human; object] vertices, ``'smpl'`` on the human vertices, ``'none'`` keeps
    camera space. Reports mean and std over frames, the ``vis > t`` rows when
    samples carry a visibility ratio, and a per-object-category breakdown.

    Keys read from each data sample (``BaseDataElement`` or dict):

    - ``img_id`` (names the sampling streams; keep it unique), ``object_name``,
      optional ``visibility`` (object visible ratio), ``gender`` (ground-truth
      body model), ``kinect`` (with ``kinects``);
    - ``pred_instances`` and ``gt_instances``: meshes as vertices or parameters,
      see :class:`~hoirecon.evaluation.metrics.hoi_meshes.HOIMeshBuilder`.

    Frames with a missing or non-finite prediction or ground truth are skipped
    and counted (``num_skipped`` and the reasons in the JSON file).

    Args:
        num_samples: samples per mesh: 10000 (CHORE, StackFLOW) or 6000 (CONTHO,
            HOI-TG, BEHAVE challenge).
        seed: seed of the sampling streams (the reference evaluators seed 7).
        alignments: reported alignments, a subset of ``('hoi', 'smpl', 'none')``.
        visibility_threshold: frames with a visibility ratio below it are left
            out of the ``vis`` rows (frames without a ratio too).
        kinects: score only frames whose ``kinect`` is listed (CHORE: ``(1,)``);
            None scores every frame (StackFLOW: all four cameras).
        body_model: ``BODY_MODELS`` config posing parametric predictions (BEHAVE:
            SMPL-H male, InterCap: SMPL-X neutral in StackFLOW).
        gt_body_model: config for parametric ground truth; default
            ``body_model``. Built per sample ``gender`` when present.
        object_library: :class:`hoirecon.objects.ObjectLibrary` keyword arguments,
            e.g. ``dict(dataset='behave')``.
        backend: ``'auto'``, ``'kdtree'`` or ``'torch'``.
        device: device of the evaluation (``'cuda'`` runs the batched GPU path).
        out_file: JSON file for per-frame errors, summaries and protocol; None: no file.
        pred_field: data-sample field scored as the prediction: ``'pred_instances'`` (the model's output, refined
            when the model has a refiner) or ``'init_instances'`` (the network's output before refinement).
        collect_device: mmengine's ``collect_device``.
        prefix: metric name prefix (default ``'hoi_chamfer'``).
    """
    default_prefix = 'hoi_chamfer'

    def __init__(self,
                 num_samples: int = 10000,
                 seed: int = 7,
                 alignments: Sequence[str] = ALIGNMENTS,
                 visibility_threshold: float = DEFAULT_VISIBILITY_THRESHOLD,
                 kinects: Optional[Sequence[int]] = None,
                 body_model: Optional[dict] = None,
                 gt_body_model: Optional[dict] = None,
                 object_library: Optional[dict] = None,
                 backend: str = 'auto',
                 device: str = 'cpu',
                 out_file: Optional[str] = None,
                 pred_field: str = 'pred_instances',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        unknown = set(alignments) - set(ALIGNMENTS)
        if unknown or not alignments:
            raise ValueError(f'alignments must be a non-empty subset of {ALIGNMENTS}, got {tuple(alignments)}')
        self.alignments = tuple(alignments)
        self.num_samples = num_samples
        self.seed = seed
        self.visibility_threshold = visibility_threshold
        self.kinects = None if kinects is None else {int(k) for k in kinects}
        self.pred_builder = HOIMeshBuilder(body_model, object_library)
        self.gt_builder = HOIMeshBuilder(gt_body_model or body_model, object_library, gendered=True)
        self.backend = backend
        self.device = device
        self.out_file = out_file
        self.pred_field = pred_field

    def evaluate_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments of :func:`evaluate_hoi_frames` for this metric's protocol."""
        return dict(num_samples=self.num_samples,
                    seed=self.seed,
                    alignments=self.alignments,
                    backend=self.backend,
                    device=self.device)

    def selected(self, samples: Sequence[Any]) -> List[Dict[str, Any]]:
        """Flatten data samples and keep the frames of the selected kinects."""
        samples = [sample_to_dict(s, self.pred_field) for s in samples]
        if self.kinects is None:
            return samples
        return [s for s in samples if s.get('kinect') is not None and int(s['kinect']) in self.kinects]

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Score the batch's frames now (keeps only small records in ``self.results``)."""
        self.results.extend(
            score_hoi_samples(self.selected(data_samples), self.pred_builder, self.gt_builder,
                              **self.evaluate_kwargs()))

    def protocol(self, **extra: Any) -> Dict[str, Any]:
        """The protocol parameters written next to the results."""
        return dict(
            chamfer='sum of the two one-sided mean Euclidean nearest-neighbour distances between surface samples, cm',
            num_samples=self.num_samples,
            seed=self.seed,
            sampling='area-weighted uniform; one random stream per (seed, img_id, mesh role)',
            alignments=list(self.alignments),
            alignment_fit='similarity (Umeyama, reflection fixed) on vertices: hoi = [human; object], smpl = human '
            '(hoi falls back to smpl when object vertex counts differ), none = camera space',
            visibility_threshold=self.visibility_threshold,
            frame_selection='all kinects' if self.kinects is None else f'kinects {sorted(self.kinects)}',
            surrogate_body=self.pred_builder.uses_surrogate_body or self.gt_builder.uses_surrogate_body,
            prediction=self.pred_field,
            hoirecon_version=__version__,
            **extra)

    def compute_metrics(self, results: List[Record]) -> Dict[str, float]:
        title = None if self.pred_field == 'pred_instances' else f'({self.pred_field})'
        return report(results, self.alignments, self.visibility_threshold, self.protocol(), self.out_file,
                      title_suffix=title)
