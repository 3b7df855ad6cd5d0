"""Every module imports on its own, whatever was imported before it: an import circle that only works in main.py's
order breaks the first script, test or worker that starts somewhere else.

A fresh interpreter per module would take minutes (NiceGUI alone loads for a second), and one per package still
pays for the third-party imports five times; so one interpreter imports each module after forgetting every project
module: third-party modules stay loaded, and only the project's import order is under test. Each module is still
its own test, so a failure names it and shows its traceback.
"""
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).parent.parent
PACKAGES = ('models', 'services', 'api', 'pages', 'runtime')

IMPORT_EACH_AFTER_FORGETTING_THE_PROJECT = '''
import importlib, json, sys, traceback
packages, names = json.loads(sys.argv[1]), json.loads(sys.argv[2])
failures = {}
for name in names:
    for loaded in [module for module in sys.modules if module.split('.')[0] in packages]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failures[name] = traceback.format_exc()
print(json.dumps(failures))
'''


def project_modules() -> list[str]:
    """Every module by its file, without importing it; migrations are run from their files instead."""
    paths = sorted(path for package in PACKAGES for path in (REPOSITORY / package).rglob('*.py'))
    return ['.'.join(path.relative_to(REPOSITORY).with_suffix('').parts).removesuffix('.__init__') for path in paths
            if 'migrations' not in path.parts]


@functools.cache
def import_failures() -> dict[str, str]:
    """Each module imported first in one interpreter: the traceback of each that failed."""
    finished = subprocess.run([sys.executable, '-c', IMPORT_EACH_AFTER_FORGETTING_THE_PROJECT, json.dumps(PACKAGES),
                               json.dumps(project_modules())], cwd=REPOSITORY, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.splitlines()[-1])


@pytest.mark.parametrize('module', project_modules())
def test_module_imports_on_its_own(module: str):
    failure = import_failures().get(module)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
