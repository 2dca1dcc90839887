"""Scoring a model before and after its refiner in one test run (``tools/test.py --refine``)."""
import os.path as osp
from typing import Dict, List

from mmengine.config import Config, ConfigDict

from hoirecon.registry import METRICS

#: Metrics that can score ``init_instances`` (they take ``pred_field``).
REFINABLE_METRICS = ('HOIChamferMetric', 'HOISequenceChamferMetric')
INITIAL = 'initial'


def config_refiner(cfg: Config) -> dict:
    """The config's top-level ``refiner`` entry, or a KeyError naming the config and how to add one."""
    if cfg.get('refiner') is None:
        raise KeyError(f"{cfg.filename or 'the config'} has no top-level `refiner` entry; add e.g. "
                       "_base_ = [..., './_base_/refiners/stackflow_behave.py'] or set model.refiner.")
    return cfg.refiner


def configure_refinement(cfg: Config, refine: bool) -> bool:
    """Switch the config's refiner on (``refine``) and score the network's output next to the refined one.

    With ``refine``, ``cfg.model.refiner`` becomes the config's top-level ``refiner`` entry (e.g.
    ``configs/_base_/refiners/stackflow_behave.py``). When the model then has a refiner, every Chamfer metric of
    ``cfg.test_evaluator`` gets a twin that scores ``init_instances`` (the network before refinement) under the
    prefix ``<prefix>_initial`` and writes ``<out_file stem>_initial.json``.

    Returns:
        Whether the model refines.

    Raises:
        KeyError: ``refine`` is set and the config has no ``refiner`` entry.
    """
    if refine:
        cfg.model.refiner = config_refiner(cfg)
    if cfg.model.get('refiner') is None:
        return False
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    twins = []
    for evaluator in evaluators:
        if evaluator.get('type') not in REFINABLE_METRICS or evaluator.get('pred_field', 'pred_instances') != \
                'pred_instances':
            continue
        twin = ConfigDict(evaluator.copy())
        twin.pred_field = 'init_instances'
        prefix = evaluator.get('prefix') or METRICS.get(evaluator['type']).default_prefix
        twin.prefix = f'{prefix}_{INITIAL}'
        if evaluator.get('out_file'):
            stem, ext = osp.splitext(evaluator['out_file'])
            twin.out_file = f'{stem}_{INITIAL}{ext or ".json"}'
        twins.append(twin)
    cfg.test_evaluator = twins + list(evaluators)
    return True


def refinement_table(metrics: Dict[str, float]) -> str:
    """Markdown table ``metric | before | after | change`` of the ``<prefix>_initial/<key>`` metric pairs."""
    rows: List[str] = []
    for key, before in metrics.items():
        prefix, sep, name = key.partition('/')
        if not (sep and prefix.endswith(f'_{INITIAL}') and name.startswith(('human_', 'object_'))) or \
                name.endswith('_std'):
            continue
        after = metrics.get(f'{prefix[:-len(INITIAL) - 1]}/{name}')
        if after is None:
            continue
        change = (after - before) / before * 100 if before else float('nan')
        rows.append(f'| {name} | {before:.2f} | {after:.2f} | {change:+.1f}% |')
    if not rows:
        return ''
    return '\n'.join(['**Refinement (Chamfer cm, before -> after)**', '', '| metric | before | after | change |',
                      '|---|---|---|---|', *rows])
