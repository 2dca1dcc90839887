"""Print a config as the tools would run it: inheritance resolved, --cfg-options merged, data/ paths resolved.

Usage::

    python tools/misc/print_config.py configs/stackflow_behave.py
    python tools/misc/print_config.py configs/stackflow_behave.py --keys model.backbone param_scheduler
    python tools/misc/print_config.py configs/stackflow_synthetic.py --cfg-options train_cfg.max_epochs=1 --json
"""
import argparse
import json
import sys

from mmengine.config import Config, DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Print a hoirecon config with its bases and overrides applied.')
    parser.add_argument('config', help='config file, e.g. configs/stackflow_behave.py')
    parser.add_argument('--keys', nargs='+', metavar='KEY',
                        help='print only these entries (dotted paths, e.g. model.backbone.init_cfg)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override entries, as train.py / test.py')
    parser.add_argument('--data-root', metavar='DIR',
                        help='folder that stands for the config\'s data/ (as train.py / test.py; default: their order)')
    parser.add_argument('--json', action='store_true', help='print JSON instead of Python')
    return parser.parse_args(argv)


def _lookup(cfg, key: str):
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif hasattr(node, 'keys') and part in node.keys():
            node = node[part]
        else:
            raise KeyError(f'{key}: no entry {part!r} in the config (top-level keys: {sorted(cfg.keys())}).')
    return node


def main(argv=None) -> str:
    args = parse_args(argv)
    from hoirecon.utils.paths import resolve_data_paths
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    resolve_data_paths(cfg, args.data_root)
    if args.keys:
        picked = {key: _lookup(cfg, key) for key in args.keys}
        picked = {key: value.to_dict() if hasattr(value, 'to_dict') else value for key, value in picked.items()}
        text = json.dumps(picked, indent=1, default=str) if args.json else '\n'.join(
            f'{key} = {value!r}' for key, value in picked.items())
    else:
        text = json.dumps(cfg.to_dict(), indent=1, default=str) if args.json else cfg.pretty_text
    print(text)
    return text


if __name__ == '__main__':
    try:
        main()
    except KeyError as err:
        sys.exit(f'print_config.py: error: {err.args[0]}')
