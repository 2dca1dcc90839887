"""The README's quick-start test command is exactly what CI runs."""
import os.path as osp
import re

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _quick_start_commands():
    text = open(osp.join(REPO_ROOT, 'README.md')).read()
    section = text.split('## Quick start', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```(?:bash|sh)?\n(.*?)\n```', section, flags=re.S)


def test_quick_start_has_exactly_two_commands():
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    assert all('\n' not in c.strip() for c in commands), 'each quick-start command is one line'


def test_ci_runs_the_readme_test_command():
    test_command = _quick_start_commands()[1].strip()
    ci_script = open(osp.join(REPO_ROOT, '.ci', 'run')).read()
    assert test_command in ci_script


def test_docs_named_by_the_code_exist():
    """Error messages and docstrings send users to docs/*.md pages: every one of them is in the project."""
    import glob
    named = {}
    for path in glob.glob(osp.join(REPO_ROOT, 'hoirecon', '**', '*.py'), recursive=True) + \
            glob.glob(osp.join(REPO_ROOT, 'tools', '**', '*.py'), recursive=True):
        for page in re.findall(r'(?<![\w/.])docs/[\w/]+\.md', open(path).read()):
            named.setdefault(page, osp.relpath(path, REPO_ROOT))
    assert named, 'expected the code to name some docs pages'
    missing = {page: where for page, where in named.items() if not osp.isfile(osp.join(REPO_ROOT, page))}
    assert not missing, f'pages named by the code but not in the project: {missing}'
