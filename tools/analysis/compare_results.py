"""Print one Markdown table from several ``HOIChamferMetric`` JSON files (``tools/test.py`` writes one per run).

    python tools/analysis/compare_results.py \\
        StackFLOW=work_dirs/stackflow_synthetic/chamfer_results.json \\
        "mean relation"=work_dirs/mean_relation_synthetic/chamfer_results.json

Each argument is ``NAME=PATH``. Rows: methods; columns: human / object Chamfer (cm, mean ± std over frames) under
each alignment, frames scored and skipped. The protocol of the first file (samples, seed, frame selection, surrogate
body) is printed under the table; files with another protocol are refused.
"""
import argparse
import json
from typing import Dict, List, Tuple

ALIGNMENT_NAMES = {'hoi': 'HOI aligned', 'smpl': 'SMPL aligned', 'none': 'w/o alignment'}
#: Protocol entries that must agree for numbers to be comparable.
PROTOCOL_KEYS = ('num_samples', 'seed', 'alignments', 'frame_selection', 'surrogate_body')


def load(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f'{path}: cannot read a metric JSON file ({err}); run tools/test.py first.')
    if 'summary' not in data or 'protocol' not in data:
        raise SystemExit(f'{path}: not an HOIChamferMetric results file (no "summary" / "protocol").')
    return data


def table(runs: List[Tuple[str, dict]]) -> str:
    alignments = runs[0][1]['protocol']['alignments']
    header = '| method | ' + ' | '.join(f'{ALIGNMENT_NAMES[a]} (human / object)' for a in alignments)
    lines = [header + ' | frames | skipped |', '|---' * (len(alignments) + 3) + '|']
    for name, data in runs:
        stats = data['summary']['all']
        cells = []
        for alignment in alignments:
            parts = stats[alignment]
            cells.append(' / '.join(f'{parts[p]["mean"]:.2f} ± {parts[p]["std"]:.2f}' for p in ('human', 'object')))
        lines.append(f'| {name} | ' + ' | '.join(cells) +
                     f' | {stats["num_frames"]} | {data["summary"]["num_skipped"]} |')
    return '\n'.join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description='Compare HOIChamferMetric result files in one table.')
    parser.add_argument('runs', nargs='+', metavar='NAME=PATH')
    args = parser.parse_args(argv)
    runs = []
    for item in args.runs:
        name, sep, path = item.partition('=')
        if not sep:
            parser.error(f'{item!r}: expected NAME=PATH')
        runs.append((name, load(path)))
    reference: Dict = runs[0][1]['protocol']
    for name, data in runs[1:]:
        differs = [k for k in PROTOCOL_KEYS if data['protocol'].get(k) != reference.get(k)]
        if differs:
            raise SystemExit(f'{name}: protocol differs from {runs[0][0]} in {differs}; numbers are not comparable.')
    text = table(runs) + '\n\nprotocol: ' + ', '.join(f'{k}={reference.get(k)}' for k in PROTOCOL_KEYS)
    print(text)
    return text


if __name__ == '__main__':
    main()
