"""`import workbench` (and its light core modules) must not pull in heavy or UI libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "ipywidgets", "plotly", "bitsandbytes", "papermill", "transformers", "peft"]


def imported_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_import_workbench_is_light():
    assert imported_after("import workbench") == []


@pytest.mark.parametrize(
    "module", ["workbench.config", "workbench.data.dataset", "workbench.errors", "workbench.rundir"]
)
@pytest.mark.slow
def test_core_modules_are_light(module):
    assert imported_after(f"import {module}") == []


@pytest.mark.slow
def test_the_sanity_check_can_fail():
    assert imported_after("import workbench, torch") == ["torch"]
