"""Shared by the build_notebook_0N.py scripts: turn a list of (kind, source) cells into a notebook.

kind is "md" (markdown), "code", or "params" (the code cell tagged `parameters` for papermill).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python", "version": "3.11"}
    for kind, source in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for cell in nb.cells:  # no random cell ids: rebuilding gives the same file
        cell.pop("id", None)
    nb.nbformat_minor = 4
    return nb


def write(cells: list[tuple[str, str]], name: str) -> Path:
    out = NOTEBOOKS / name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(cells), out)
    return out
