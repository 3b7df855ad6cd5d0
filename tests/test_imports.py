"""Every module imports on its own, whatever was imported before it: an import circle that only works in main.py's
order breaks the first script, test or worker that starts somewhere else."""
import json
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).parent.parent
PACKAGES = ('models', 'services', 'api', 'pages', 'runtime')

EACH_ON_ITS_OWN = f'''
import importlib, json, pathlib, sys
packages = {PACKAGES!r}
names = ['.'.join(path.with_suffix('').parts).removesuffix('.__init__')
         for package in packages for path in sorted(pathlib.Path(package).rglob('*.py'))
         if 'migrations' not in path.parts]
failed = {{}}
for name in names:
    for loaded in [module for module in sys.modules if module.split('.')[0] in packages]:
        del sys.modules[loaded]  # third-party modules stay loaded: only the project's import order is under test
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f'{{type(error).__name__}}: {{error}}'
print(json.dumps({{'imported': len(names), 'failed': failed}}))
'''


def test_every_module_imports_on_its_own():
    finished = subprocess.run([sys.executable, '-c', EACH_ON_ITS_OWN], cwd=REPOSITORY, capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout.splitlines()[-1])
    assert result['imported'] > 100
    assert result['failed'] == {}
