"""Print every registered hoirecon class, per category.

Usage::

    python tools/misc/list_components.py                 # all categories
    python tools/misc/list_components.py body_models heads
    python tools/misc/list_components.py --json
"""
import argparse
import json
import sys

from hoirecon.registry import CATEGORIES
from hoirecon.utils.registry_listing import list_components


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='List registered hoirecon components per category.')
    parser.add_argument('categories', nargs='*', metavar='CATEGORY',
                        help=f'categories to list (default: all): {", ".join(CATEGORIES)}')
    parser.add_argument('--json', action='store_true', help='print {category: {name: "module.Class"}} as JSON')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        listing = list_components(args.categories or None)
    except KeyError as err:
        sys.exit(str(err.args[0]))
    if args.json:
        print(json.dumps(listing, indent=2))
        return
    for category, entries in listing.items():
        print(f'{category} ({len(entries)})')
        for name, where in entries.items():
            print(f'  {name:<28} {where}')
        if not entries:
            print('  (none registered yet)')


if __name__ == '__main__':
    main()
