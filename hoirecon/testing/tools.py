"""The scripts of the repository's ``tools/`` folder loaded as modules, for tests (they are not part of the package)."""
import importlib.util
import os.path as osp
from types import ModuleType

#: The repository checkout that holds ``tools/`` (an editable install's source tree).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a fresh module, e.g. ``load_tool('demo').main([...])`` or
    ``load_tool('dataset_converters/behave')``.

    Raises:
        FileNotFoundError: no such script (the package was installed without its checkout: the tools live in the
            repository, not in the wheel).
    """
    path = osp.join(REPO_ROOT, 'tools', f'{name}.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'load_tool: no script {path}; tools/ is part of the repository checkout (install it '
                                'with pip install -e . from the clone).')
    spec = importlib.util.spec_from_file_location(f'hoirecon_tool_{name.replace("/", "_")}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
