"""The layers stay apart: schemas import nothing of orchestrator; the simulator only schemas."""

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
