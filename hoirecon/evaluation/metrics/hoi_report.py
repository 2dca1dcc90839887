"""Summaries, Markdown tables and the JSON result file of the HOI Chamfer metrics.

A frame record is a dict: ``img_id``, ``object_name``, ``visibility`` (or None)
and either ``chamfer_cm`` (``{alignment: {'human': cm, 'object': cm}}``) with
``hoi_fallback`` (bool), or ``skipped`` (the reason).
"""
import json
import os
import os.path as osp
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from ..functional.hoi_frames import PARTS

Record = Dict[str, Any]


def _stats(records: Sequence[Record], alignments: Sequence[str]) -> Dict[str, Any]:
    """Mean and (population) standard deviation per alignment and part, in cm."""
    out: Dict[str, Any] = dict(num_frames=len(records))
    for alignment in alignments:
        out[alignment] = {}
        for part in PARTS:
            values = np.array([r['chamfer_cm'][alignment][part] for r in records], dtype=np.float64)
            out[alignment][part] = dict(mean=float(values.mean()) if len(values) else float('nan'),
                                        std=float(values.std()) if len(values) else float('nan'))
    return out


def summarize(records: Sequence[Record], alignments: Sequence[str], visibility_threshold: float) -> Dict[str, Any]:
    """Aggregate frame records: all frames, ``vis >= threshold`` frames, and both per object category.

    Returns:
        ``dict(all=..., visible=... or None, per_category={name: dict(all=..., visible=...)},
        num_skipped, skipped_reasons, num_hoi_fallback)``; each ``...`` is
        ``{alignment: {part: {mean, std}}, num_frames}``. ``visible`` is None when
        no scored frame carries a visibility ratio.
    """
    scored = [r for r in records if 'chamfer_cm' in r]
    skipped = [r for r in records if 'skipped' in r]

    def with_visibility(rows: Sequence[Record]) -> Optional[Dict[str, Any]]:
        if not any(r.get('visibility') is not None for r in rows):
            return None
        return _stats([r for r in rows if (r.get('visibility') or 0.0) >= visibility_threshold], alignments)

    categories = sorted({str(r.get('object_name')) for r in scored if r.get('object_name') is not None})
    per_category = {}
    for name in categories:
        rows = [r for r in scored if r.get('object_name') == name]
        per_category[name] = dict(all=_stats(rows, alignments), visible=with_visibility(rows))
    return dict(all=_stats(scored, alignments),
                visible=with_visibility(scored),
                per_category=per_category,
                num_skipped=len(skipped),
                skipped_reasons=dict(Counter(r['skipped'] for r in skipped)),
                num_hoi_fallback=int(sum(bool(r.get('hoi_fallback')) for r in scored)))


def flat_metrics(summary: Dict[str, Any], alignments: Sequence[str], visibility_threshold: float) -> Dict[str, float]:
    """Scalars for mmengine's logs: ``{part}_{alignment}`` (mean cm), ``..._std``, ``..._vis{t}``, counts."""
    out: Dict[str, float] = {}
    rows = [('', summary['all'])]
    if summary['visible'] is not None:
        rows.append((f'_vis{visibility_threshold:g}', summary['visible']))
    for suffix, stats in rows:
        for alignment in alignments:
            for part in PARTS:
                out[f'{part}_{alignment}{suffix}'] = stats[alignment][part]['mean']
                out[f'{part}_{alignment}{suffix}_std'] = stats[alignment][part]['std']
    out['num_frames'] = summary['all']['num_frames']
    out['num_skipped'] = summary['num_skipped']
    out['num_hoi_fallback'] = summary['num_hoi_fallback']
    return out


_ALIGNMENT_TITLES = dict(hoi='HOI aligned', smpl='SMPL aligned', none='w/o alignment')


def markdown_tables(summary: Dict[str, Any],
                    alignments: Sequence[str],
                    visibility_threshold: float,
                    title: str = 'HOI Chamfer distance (cm, human / object, mean±std)') -> str:
    """Markdown tables: overall rows (all frames, vis >= t) and one row per object category."""
    header = '| frames | n | ' + ' | '.join(_ALIGNMENT_TITLES[a] for a in alignments) + ' |'
    rule = '|---|---|' + '---|' * len(alignments)

    def row(name: str, stats: Dict[str, Any]) -> str:
        cells = []
        for alignment in alignments:
            human, obj = stats[alignment]['human'], stats[alignment]['object']
            cells.append(f"{human['mean']:.2f}±{human['std']:.2f} / {obj['mean']:.2f}±{obj['std']:.2f}")
        return f"| {name} | {stats['num_frames']} | " + ' | '.join(cells) + ' |'

    vis_name = f'vis > {visibility_threshold:g}'
    lines = [f'**{title}**', '', header, rule, row('all', summary['all'])]
    if summary['visible'] is not None:
        lines.append(row(vis_name, summary['visible']))
    if summary['per_category']:
        lines += ['', '**Per object category (all frames)**', '', header.replace('frames', 'object'), rule]
        lines += [row(name, stats['all']) for name, stats in summary['per_category'].items()]
    lines += [
        '', f"skipped frames: {summary['num_skipped']} {summary['skipped_reasons'] or ''}".rstrip(),
        f"hoi alignment fell back to smpl (object vertex counts differ): {summary['num_hoi_fallback']} frames"
    ]
    return '\n'.join(lines)


def dump_results(path: str, records: List[Record], summary: Dict[str, Any], protocol: Dict[str, Any]) -> None:
    """Write ``{protocol, summary, frames}`` as JSON (creating the folder)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(protocol=protocol, summary=summary, frames=records), f, indent=1)


def report(records: List[Record],
           alignments: Sequence[str],
           visibility_threshold: float,
           protocol: Dict[str, Any],
           out_file: Optional[str],
           logger: str = 'current',
           title_suffix: Optional[str] = None) -> Dict[str, float]:
    """Summarise records, write the JSON file (when ``out_file``), print the Markdown tables, return log scalars."""
    summary = summarize(records, alignments, visibility_threshold)
    if out_file:
        dump_results(out_file, records, summary, protocol)
    title = 'HOI Chamfer distance (cm, human / object, mean±std)'
    if title_suffix:
        title = f'{title} {title_suffix}'
    print_log('\n' + markdown_tables(summary, alignments, visibility_threshold, title), logger=logger)
    if out_file:
        print_log(f'per-frame HOI Chamfer errors written to {out_file}', logger=logger)
    return flat_metrics(summary, alignments, visibility_threshold)
