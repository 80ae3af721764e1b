"""The layers stay apart: schemas import nothing of orchestrator; the simulator only schemas."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import schemas

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys
before = set(sys.modules)
import {module}
print(json.dumps(sorted(m for m in set(sys.modules) - before)))
"""


def _imports(module: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded: list[str] = json.loads(out)
    return loaded


@pytest.mark.parametrize("module", ["schemas", "schemas.requests", "schemas.pricing"])
def test_schemas_import_nothing_of_orchestrator(module: str) -> None:
    """The wire structs are usable without the orchestrator (and without aiohttp)."""
    loaded = _imports(module)
    assert not [m for m in loaded if m.startswith("orchestrator") or m.startswith("aiohttp")]


def test_simulator_imports_only_schemas_of_the_project() -> None:
    """The simulator depends on schemas, never on the orchestrator's pipeline."""
    loaded = _imports("orchestrator.simulator.app")
    own = [
        m
        for m in loaded
        if m.startswith("orchestrator.") and not m.startswith("orchestrator.simulator")
    ]
    assert own == []


def test_schemas_public_surface_is_the_decoders() -> None:
    """`schemas` exposes exactly the decode functions, sorted."""
    assert schemas.__all__ == sorted(schemas.__all__)
    assert schemas.__all__ == [
        "decode_errors",
        "decode_id_list",
        "decode_task_get",
        "decode_task_post",
        "decode_tasks_ready",
        "decode_user_data",
    ]


def test_simulator_public_surface_is_sorted_and_importable() -> None:
    """`orchestrator.simulator` exports what tests and benchmarks use, in sorted order."""
    import orchestrator.simulator as simulator

    assert simulator.__all__ == sorted(simulator.__all__)
    assert all(hasattr(simulator, name) for name in simulator.__all__)


def import_graph() -> dict[str, set[str]]:
    """Every import of every module of ours, wherever it stands: at the top, in a function
    (a lazy import), or under TYPE_CHECKING. `from a import b` is an import of `a` and, when
    `a.b` is a module, of `a.b` too; importing a module imports its packages first."""
    modules: dict[str, Path] = {}
    for package in ("orchestrator", "schemas"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for target in found:
                pieces = target.split(".")
                for end in range(1, len(pieces) + 1):  # the packages on the way count
                    prefix = ".".join(pieces[:end])
                    if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                        graph[name].add(prefix)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_of_ours_imports_another_in_a_cycle_lazy_imports_included() -> None:
    """The stages talk through narrow interfaces (context.py), not by importing each other
    in a circle; an import inside a function or under TYPE_CHECKING counts like any other."""
    graph = import_graph()
    assert graph["orchestrator.pipeline.run"] and graph["orchestrator.pipeline.producer"]
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_stage_imports_the_run_that_wires_it() -> None:
    """run.py wires the stages; only the entry points (`orchestrator run`, the demo) import
    it."""
    users = {
        name for name, targets in import_graph().items() if "orchestrator.pipeline.run" in targets
    }
    assert users == {"orchestrator.cli.run", "orchestrator.cli.demo"}
