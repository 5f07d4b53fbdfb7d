"""The house's rules about imports and sizes (docs/ARCHITECTURE.md), checked on every run.

* import-linter's contracts in pyproject.toml: services know no Telegram and
  no handlers; models import nothing above them; each feature's services are
  used through their package's face.
* No import cycle among the project's modules, imports inside functions and
  under ``TYPE_CHECKING`` included (grimp, import-linter's graph).
* An import inside a function says why, in a comment on its line or just above.
* No module of bot/, handlers/, models/ is over 700 lines (the Bot API
  emulator and the migrations aside).
"""

from __future__ import annotations

import ast
import contextlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "models")
MAX_LINES = 700
LONG_ALLOWED = ("bot/sandbox/emulator.py", "models/migrations/")


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@contextlib.contextmanager
def _loggers_kept() -> Iterator[None]:
    """import-linter configures logging (``dictConfig``), which disables every logger
    already made: a test run after it in the same process (pytest-xdist worker) would
    see no log records of the bot's modules.  Their state is put back."""
    loggers = [logging.root, *(lg for lg in logging.root.manager.loggerDict.values()
                                if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.disabled, lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    try:
        yield
    finally:
        for lg, disabled, level, propagate, handlers in saved:
            lg.disabled, lg.propagate, lg.handlers = disabled, propagate, handlers
            lg.setLevel(level)


def test_import_contracts_hold() -> None:
    logging.getLogger("bot.answers")  # made before, as in a process that ran the bot's tests
    logging.getLogger("aiogram.event")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), _loggers_kept():
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    assert code == 0, out.getvalue()
    # Checked here, where it broke: the bot's own loggers still log.
    assert not logging.getLogger("bot.answers").disabled and not logging.getLogger("aiogram.event").disabled


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c", "d"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert _cycles(graph) == [["a", "b", "c"]]


def _says_why(lines: list[str], lineno: int) -> bool:
    """A comment on the import, or on the block of imports it stands in, or just above that block."""
    i = lineno - 1
    while i >= 0:
        line = lines[i].strip()
        if "#" in line:
            return True
        if not line.startswith(("from ", "import ", ")")) and not line.endswith(","):
            return False
        i -= 1
    return False


def test_imports_inside_functions_say_why() -> None:
    silent = []
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for func in ast.walk(ast.parse(source)):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom) and not _says_why(lines, node.lineno):
                    silent.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert silent == []


def test_no_module_over_700_lines() -> None:
    long = {}
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(LONG_ALLOWED):
            continue
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            long[rel] = count
    assert long == {}
