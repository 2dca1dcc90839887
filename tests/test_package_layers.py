"""The import graph between hoirecon's subpackages: no cycle, and the method never imports the data generators.

Every module of ``hoirecon`` is parsed with ``ast`` (nothing is imported), and every ``import`` / ``from ... import``
statement counts, also those inside functions: a lazy import is still a dependency. Nodes are the top-level
subpackages and modules of ``hoirecon`` (``assets``, ``synthetic``, ``datasets``, ``models``, ..., ``registry``);
``hoirecon/__init__.py`` itself is left out (it is run before any subpackage, whatever imports what).
"""
import ast
import os
import os.path as osp

import pytest

PACKAGE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'hoirecon')
#: The method's packages: they read data and model files, never generate them.
READERS = ('datasets', 'models', 'objects', 'evaluation', 'visualization')
#: Subpackage edges that close a cycle today, each with the reason it is tolerated. Empty: there is none.
ALLOWED_CYCLE_EDGES = set()


def _module_name(path: str) -> str:
    parts = osp.relpath(path, osp.dirname(PACKAGE))[:-len('.py')].split(os.sep)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imported_modules(path: str):
    """(module name, line) of every hoirecon module that ``path`` imports, relative imports resolved."""
    name = _module_name(path)
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                targets = ['.'.join(base + ([node.module] if node.module else []))]
                if not node.module:  # ``from . import x``: x may be a submodule
                    targets = [f'{targets[0]}.{alias.name}' for alias in node.names]
            else:
                targets = [node.module]
        else:
            continue
        for target in targets:
            if target == 'hoirecon' or target.startswith('hoirecon.'):
                yield target, node.lineno


def _top(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def subpackage_graph():
    """``{source: {target: ['path:line', ...]}}`` between top-level subpackages (self edges dropped)."""
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in sorted(files):
            path = osp.join(folder, file)
            if not file.endswith('.py') or path == osp.join(PACKAGE, '__init__.py'):
                continue
            source = _top(_module_name(path))
            graph.setdefault(source, {})
            for target, line in _imported_modules(path):
                target = _top(target)
                if target and target != source:
                    where = f'{osp.relpath(path, osp.dirname(PACKAGE))}:{line}'
                    graph[source].setdefault(target, []).append(where)
    return graph


def find_cycle(graph, ignore=frozenset()):
    """One cycle ``[a, b, ..., a]`` of the graph without the ``ignore`` edges, or None."""
    state = {}

    def visit(node, path):
        state[node] = 'open'
        for target in sorted(graph.get(node, {})):
            if (node, target) in ignore:
                continue
            if state.get(target) == 'open':
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target, path + [target])
                if cycle:
                    return cycle
        state[node] = 'done'
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


@pytest.fixture(scope='module')
def graph():
    return subpackage_graph()


def test_the_graph_sees_lazy_and_relative_imports(graph):
    # apis/prepare.py imports hoirecon.synthetic inside a function, and apis/__init__.py imports it relatively
    assert any(where.startswith('hoirecon/apis/prepare.py') for where in graph['apis']['synthetic'])
    assert {'assets', 'synthetic', 'datasets', 'models', 'objects', 'utils', 'registry'} <= set(graph)


def test_no_cycle_between_subpackages(graph):
    cycle = find_cycle(graph, ignore=ALLOWED_CYCLE_EDGES)
    if cycle:
        edges = [f'{a} -> {b} ({", ".join(graph[a][b])})' for a, b in zip(cycle, cycle[1:])]
        pytest.fail('import cycle between subpackages:\n' + '\n'.join(edges))


@pytest.mark.parametrize('reader', READERS)
def test_readers_never_import_the_generators(graph, reader):
    assert 'synthetic' not in graph.get(reader, {}), graph[reader]['synthetic']


def test_assets_depend_on_nothing_of_the_method(graph):
    # structures: the SMPL-family facts (joint sets, landmark vertex ids, BODY_25) that the surrogate body needs
    assert set(graph.get('assets', {})) <= {'utils', 'structures'}, graph['assets']


def test_structures_depend_on_nothing_but_utils(graph):
    # the layer below both the models and the asset generators: plain containers and facts
    assert set(graph.get('structures', {})) <= {'utils'}, graph['structures']


def test_the_body_models_build_the_surrogate_from_assets(graph):
    # models -> assets (SMPL('surrogate')) and assets -> structures <- models: no cycle through the generator
    assert any(where.startswith('hoirecon/models/body_models/') for where in graph['models']['assets'])
    assert any(where.startswith('hoirecon/assets/surrogate_body.py') for where in graph['assets']['structures'])


def test_find_cycle_finds_one():
    assert find_cycle({'a': {'b': []}, 'b': {'c': []}, 'c': {'a': []}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b': []}, 'b': {}}) is None
    assert find_cycle({'a': {'b': []}, 'b': {'a': []}}, ignore={('b', 'a')}) is None
