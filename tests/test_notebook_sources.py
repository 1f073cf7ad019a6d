"""The notebooks' jupytext sources: the .ipynb files match them, and they import only the public API."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
SYNC = REPO / "scripts" / "sync_notebooks.py"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))
ALLOWED = ("workbench", "workbench.ui")  # a notebook is glue over the public API and the views


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync_notebooks = _load_script(SYNC)


@pytest.fixture
def sync(capsys):
    """sync(*argv) runs scripts/sync_notebooks.py's main; returns (exit status, stderr)."""

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        status = sync_notebooks.main(list(argv))
        return status, capsys.readouterr().err

    return run


def test_every_notebook_has_its_source():
    names = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert len(names) == 6 and names == {p.stem for p in SOURCES}  # 01-05 and 06_compare_runs


@pytest.mark.slow  # a subprocess; `make lint` checks the same
def test_the_notebooks_match_their_sources():
    # as `make lint` runs it: the script on its own, from the repository root
    proc = subprocess.run(
        [sys.executable, str(SYNC), "--check"], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def copy(tmp_path, sync) -> Path:
    for path in NOTEBOOKS.glob("*.*"):
        shutil.copy(path, tmp_path / path.name)
    assert sync("--check", "--notebooks", str(tmp_path)) == (0, "")
    return tmp_path


def test_the_check_fails_on_an_edited_source_and_sync_repairs_it(copy, sync):
    source = copy / "03_train.py"
    source.write_text(source.read_text().replace("# 03 · Train", "# 03 · Train it"))
    status, err = sync("--check", "--notebooks", str(copy))
    assert status == 1 and "03_train.ipynb: differs from 03_train.py" in err
    assert "Train it" not in (copy / "03_train.ipynb").read_text(), "--check changes nothing"
    assert sync("--notebooks", str(copy)) == (0, "")
    assert "# 03 · Train it" in (copy / "03_train.ipynb").read_text()
    assert sync("--check", "--notebooks", str(copy)) == (0, "")


def test_the_check_fails_on_outputs_left_in_a_notebook(copy, sync):
    nb = copy / "01_inspect_data.ipynb"
    output = '"outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}]'
    nb.write_text(nb.read_text().replace('"outputs": []', output, 1))
    status, err = sync("--check", "--notebooks", str(copy))
    assert status == 1 and "01_inspect_data.ipynb: differs" in err


def test_the_check_fails_on_a_notebook_without_source(copy, sync):
    (copy / "04_compare.py").unlink()
    status, err = sync("--check", "--notebooks", str(copy))
    assert status == 1 and "04_compare.ipynb: no source 04_compare.py" in err


def test_a_source_without_kernelspec_is_refused(copy, sync):
    source = copy / "05_document.py"
    text = source.read_text()
    start, end = text.index("#   kernelspec:"), text.index("#   language_info:")
    source.write_text(text[:start] + text[end:])
    status, err = sync("--notebooks", str(copy))
    assert status == 2 and "05_document.py: the jupytext header has no kernelspec" in err


def test_a_source_without_a_parameters_cell_is_refused(copy, sync):
    source = copy / "02_choose_technique.py"
    source.write_text(source.read_text().replace('# %% tags=["parameters"]', "# %%"))
    status, err = sync("--notebooks", str(copy))
    assert status == 2 and "02_choose_technique.py: 0 cells tagged parameters" in err


def test_generated_notebooks_are_papermill_ready():
    for source in SOURCES:
        nb = jupytext.read(source.with_suffix(".ipynb"))
        assert {"kernelspec", "language_info"} <= set(nb.metadata), source.name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and tagged[0].cell_type == "code", source.name
        assert all("id" not in c for c in nb.cells), "no random cell ids"


# -- what notebooks import ---------------------------------------------------------------------


def _is_submodule(name: str) -> bool:
    path = REPO / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def deep_imports(code: str) -> list[str]:
    """Modules under `workbench` that a cell imports other than the public API and the views."""
    out = []
    for node in ast.walk(ast.parse(code)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            names += [
                f"{node.module}.{a.name}" for a in node.names
            ]  # `from workbench import plots`
            names = [names[0], *(n for n in names[1:] if _is_submodule(n))]
        for name in names:
            top_or_ui = name in ALLOWED or name.startswith("workbench.ui.")
            if name.split(".")[0] == "workbench" and not top_or_ui:
                out.append(name)
    return out


def cells(source: Path) -> list[str]:
    nb = jupytext.read(source)
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebooks_import_only_the_public_api_and_the_views(source):
    found = [(i, name) for i, code in enumerate(cells(source)) for name in deep_imports(code)]
    assert not found, (
        f"{source.name} imports deep modules (code cell, module): {found}; "
        "export the names in workbench/__init__.py `_EXPORTS` and import them from `workbench`"
    )


def test_the_import_rule_can_fail():
    assert deep_imports("from workbench.inspection.report import clean") == [
        "workbench.inspection.report"
    ]
    assert deep_imports("import workbench.plots as p") == ["workbench.plots"]
    assert deep_imports("if x:\n    from workbench import plots") == ["workbench.plots"]
    assert deep_imports("from workbench.ui import inspect") == []
    assert deep_imports("import workbench as wb\nfrom workbench.ui.live import LiveLossPlot") == []
    assert deep_imports("from workbench import clean, train\nimport torch") == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_papermill_reads_every_assignment_of_the_parameters_cell(source):
    """A parameter papermill cannot parse (an `=` in its comment, say) is silently not declared:
    the pipeline then refuses it as unknown. Every assignment must come back, with its default."""
    import papermill as pm

    notebook = source.with_suffix(".ipynb")
    cell = next(
        c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", [])
    )
    assigned = [
        node.targets[0].id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    ]
    declared = pm.inspect_notebook(str(notebook))
    assert list(declared) == assigned
