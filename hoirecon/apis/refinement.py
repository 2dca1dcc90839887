"""Scoring a model before and after its refiners in one test run (``tools/test.py --refine``)."""
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config, ConfigDict

from hoirecon.registry import METRICS

#: Metrics that can score ``init_instances`` (they take ``pred_field``).
REFINABLE_METRICS = ('HOIChamferMetric', 'HOISequenceChamferMetric')
INITIAL = 'initial'
FRAME = 'frame'


def test_evaluators(cfg: Config) -> List[dict]:
    """The config's ``test_evaluator`` as a list (mmengine takes one metric config or a list); the dicts are the
    config's own, so changing them changes the config."""
    return cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]


def metric_prefix(evaluator: dict) -> str:
    """Prefix of the scalars a metric config logs: its ``prefix``, else the metric class's ``default_prefix``."""
    return evaluator.get('prefix') or METRICS.get(evaluator['type']).default_prefix


def config_refiner(cfg: Config) -> dict:
    """The config's top-level ``refiner`` entry, or a KeyError naming the config and how to add one."""
    if cfg.get('refiner') is None:
        raise KeyError(f"{cfg.filename or 'the config'} has no top-level `refiner` entry; add e.g. "
                       "_base_ = [..., './_base_/refiners/stackflow_behave.py'] or set model.refiner.")
    return cfg.refiner


def sequence_refiner_config(cfg: Config) -> Optional[dict]:
    """The model's ``sequence_refiner``: the config's per-frame ``refiner`` settings (all but its ``type``) with the
    top-level ``sequence_refiner`` entry on top (its type, windows, smoothing, steps, lr, ``object_init``); None when
    the config has no ``sequence_refiner``."""
    sequence = cfg.get('sequence_refiner')
    if sequence is None:
        return None
    frame = {key: value for key, value in dict(cfg.get('refiner') or {}).items() if key != 'type'}
    return dict(frame, **dict(sequence))


def configure_refinement(cfg: Config, refine: bool) -> bool:
    """Switch the config's refiners on (``refine``) and score each stage of the reconstruction in one run.

    With ``refine``, ``cfg.model.refiner`` becomes the config's top-level ``refiner`` entry (e.g.
    ``configs/_base_/refiners/stackflow_behave.py``) and, when the config has a top-level ``sequence_refiner`` (e.g.
    ``configs/_base_/refiners/sequence_behave_extended.py``), ``cfg.model.sequence_refiner`` becomes
    :func:`sequence_refiner_config` and the test
    loop a :class:`~hoirecon.engine.loops.SequenceTestLoop`. When the model then has a refiner, every Chamfer metric
    of ``cfg.test_evaluator`` gets a twin that scores ``init_instances`` (the network before refinement) under the
    prefix ``<prefix>_initial`` and writes ``<out_file stem>_initial.json``; with a sequence refiner too, a second
    twin scores ``frame_instances`` (the per-frame refinement, before smoothing) as ``<prefix>_frame``.

    Returns:
        Whether the model refines.

    Raises:
        KeyError: ``refine`` is set and the config has no ``refiner`` entry.
    """
    if refine:
        cfg.model.refiner = config_refiner(cfg)
        if cfg.get('sequence_refiner') is not None:
            cfg.model.sequence_refiner = sequence_refiner_config(cfg)
    sequences = cfg.model.get('sequence_refiner') is not None
    if sequences:
        test_cfg = cfg.get('test_cfg') or {}
        if test_cfg.get('type', 'TestLoop') in ('TestLoop', 'mmengine.TestLoop'):
            cfg.test_cfg = dict(test_cfg, type='SequenceTestLoop')
    if cfg.model.get('refiner') is None and not sequences:
        return False
    evaluators = test_evaluators(cfg)
    stages = [('init_instances', INITIAL)] + ([('frame_instances', FRAME)] if sequences else [])
    twins = []
    for evaluator in evaluators:
        if evaluator.get('type') not in REFINABLE_METRICS or evaluator.get('pred_field', 'pred_instances') != \
                'pred_instances':
            continue
        prefix = metric_prefix(evaluator)
        for field, stage in stages:
            twin = ConfigDict(evaluator.copy())
            twin.pred_field = field
            twin.prefix = f'{prefix}_{stage}'
            if evaluator.get('out_file'):
                stem, ext = osp.splitext(evaluator['out_file'])
                twin.out_file = f'{stem}_{stage}{ext or ".json"}'
            twins.append(twin)
    cfg.test_evaluator = twins + list(evaluators)
    return True


def refinement_table(metrics: Dict[str, float]) -> str:
    """Markdown table of the ``<prefix>_initial/<key>`` metrics against the refined ones.

    Columns ``before | after | change``, or, when per-frame results before smoothing were scored too
    (``<prefix>_frame/<key>``), ``network | post-optimised | smoothed | change`` (change: smoothed against network).
    """
    rows: List[str] = []
    three = any(key.partition('/')[0].endswith(f'_{FRAME}') for key in metrics)
    for key, before in metrics.items():
        prefix, sep, name = key.partition('/')
        if not (sep and prefix.endswith(f'_{INITIAL}') and name.startswith(('human_', 'object_'))) or \
                name.endswith('_std'):
            continue
        base = prefix[:-len(INITIAL) - 1]
        after = metrics.get(f'{base}/{name}')
        if after is None:
            continue
        change = (after - before) / before * 100 if before else float('nan')
        if three:
            frame = metrics.get(f'{base}_{FRAME}/{name}', float('nan'))
            rows.append(f'| {base}/{name} | {before:.2f} | {frame:.2f} | {after:.2f} | {change:+.1f}% |')
        else:
            rows.append(f'| {name} | {before:.2f} | {after:.2f} | {change:+.1f}% |')
    if not rows:
        return ''
    if three:
        title = '**Refinement (Chamfer cm, acceleration mm/frame^2: network -> post-optimised per frame -> smoothed)**'
        return '\n'.join([title, '',
                          '| metric | network | post-optimised | smoothed | change |', '|---|---|---|---|---|', *rows])
    return '\n'.join(['**Refinement (Chamfer cm, before -> after)**', '', '| metric | before | after | change |',
                      '|---|---|---|---|', *rows])
