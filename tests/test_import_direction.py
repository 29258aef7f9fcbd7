"""Imports point one way: app.queue <- models/services <- tasks <- web <-
run.py. Below the web layer nothing imports `tasks`: services return what
they created and the view or task that called them queues it. And no two
of our modules import each other, however indirectly."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / 'app'


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


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def our_imports(path, known):
    """The modules of ours that `path` imports (`from a import b` may name a
    module b or a name in a; both count when they are ours)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f'{node.module}.{alias.name}' for alias in node.names)
    return found & known


def test_our_modules_import_each_other_in_no_cycle():
    files = sorted(APP.rglob('*.py')) + [ROOT / 'tasks.py', ROOT / 'run.py']
    graph = {module_name(path): path for path in files}
    edges = {name: our_imports(path, set(graph)) - {name} for name, path in graph.items()}
    done, cycles = set(), []

    def visit(name, trail):
        if name in trail:
            cycles.append(trail[trail.index(name):] + [name])
            return
        if name in done:
            return
        for target in sorted(edges[name]):
            visit(target, trail + [name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])
    assert cycles == []
