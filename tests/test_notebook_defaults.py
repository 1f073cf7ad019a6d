"""Run interactively, notebooks 01-05 default to the README's quick profile (examples/demo.yaml).

A parameter a notebook declares with a value must hold the profile's value; one left None must be
filled in elsewhere: notebook 02 takes data, model and cutoff from 01's report, and notebook 03
falls back to its `QUICK` settings (without 02's technique.json), which must equal the profile.
The demo's forgetting options (kl_to_base, kl_on, replay) are the demo file's own choice, not the quick
profile's: they stay off by default.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import papermill as pm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_inspect_data", "02_choose_technique", "03_train", "04_compare", "05_document")
# notebook 03's "two ways to forget less"
OPTIONS = {"kl_to_base", "kl_on", "replay", "replay_share"}
FILLED_IN = {"02_choose_technique": {"dataset", "model", "max_length"}}  # None: notebook 01's


def quick_profile(notebook: str) -> dict:
    demo = yaml.safe_load((REPO / "examples" / "demo.yaml").read_text())
    shared = {
        k: v for k, v in demo.items() if k not in ("profiles", "notebooks", "gates", "provider")
    }
    values = {**shared, **demo["profiles"]["quick"], **demo["notebooks"].get(notebook, {})}
    return {k: v for k, v in values.items() if k not in OPTIONS}


def declared_defaults(notebook: str) -> dict:
    declared = pm.inspect_notebook(str(REPO / "notebooks" / f"{notebook}.ipynb"))
    return {name: ast.literal_eval(p["default"]) for name, p in declared.items()}


def notebook_03_quick() -> dict:
    """The keyword arguments of `QUICK = dict(...)` in notebook 03's code."""
    nb = jupytext.read(REPO / "notebooks" / "03_train.py")
    for cell in nb.cells:
        for node in ast.walk(ast.parse(cell.source)) if cell.cell_type == "code" else ():
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "QUICK":
                return {kw.arg: ast.literal_eval(kw.value) for kw in node.value.keywords}
    raise AssertionError("notebook 03 has no QUICK = dict(...)")


@pytest.mark.parametrize("notebook", [n for n in NOTEBOOKS if n != "03_train"])
def test_declared_defaults_are_the_quick_profile(notebook):
    defaults, profile = declared_defaults(notebook), quick_profile(notebook)
    later = FILLED_IN.get(notebook, set())
    differ = {
        k: (defaults[k], v)
        for k, v in profile.items()
        if k in defaults and defaults[k] != v and not (defaults[k] is None and k in later)
    }
    assert differ == {}, f"{notebook}: default != quick profile: {differ}"


def test_notebook_03_without_a_choice_trains_the_quick_profile():
    from workbench import TrainConfig

    quick, fields = notebook_03_quick(), TrainConfig().to_dict()
    declared = [k for k, v in declared_defaults("03_train").items() if v is None and k in fields]
    got = {k: quick.get(k, fields[k]) for k in declared}
    profile = quick_profile("03_train")
    differ = {k: (got[k], v) for k, v in profile.items() if k in got and got[k] != v}
    assert differ == {}, f"03_train: QUICK or TrainConfig default != quick profile: {differ}"
    assert set(quick) <= set(profile), "QUICK holds settings the profile does not have"
