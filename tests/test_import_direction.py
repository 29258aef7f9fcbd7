"""Imports point one way (issue 12): app.queue <- models/services <- tasks
<- web <- run.py. Below the web layer nothing imports `tasks`: services
return what they created and the view or task that called them queues it."""
import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / 'app'


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ''


def test_no_module_below_the_web_layer_imports_tasks():
    offenders = []
    for path in sorted(APP.rglob('*.py')):
        if path.relative_to(APP).parts[0] == 'web':
            continue
        for module in imported_modules(path):
            if module == 'tasks' or module.startswith('tasks.'):
                offenders.append(str(path.relative_to(APP.parent)))
    assert offenders == []
