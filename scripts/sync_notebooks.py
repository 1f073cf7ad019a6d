"""Write notebooks/*.ipynb from their jupytext sources notebooks/*.py (--check: exit 1 if any differs).

The `.py` files (jupytext percent format) are the notebooks' source: edit them (JupyterLab opens
them as notebooks with jupytext installed), then run `make format`. The `.ipynb` files are what
papermill, the pipeline and users open; they are generated here without outputs, cell ids or
jupytext metadata, so the same source always gives the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

from workbench.io import write_text_atomic

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FORMAT = "py:percent"
NEEDED_METADATA = ("kernelspec", "language_info")  # papermill refuses a notebook without them


class SourceError(Exception):
    """A notebook source papermill could not run: says which file and what to add."""


def notebook_text(source: Path) -> str:
    """The .ipynb text generated from one jupytext source."""
    nb = jupytext.read(source, fmt=FORMAT)
    missing = [key for key in NEEDED_METADATA if key not in nb.metadata]
    if missing:
        raise SourceError(
            f"{source}: the jupytext header has no {' or '.join(missing)}; papermill needs "
            "kernelspec and language_info (copy the header of another notebook)"
        )
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise SourceError(
            f'{source}: {len(tagged)} cells tagged parameters; mark exactly one `# %% tags=["parameters"]`'
        )
    nb.metadata.pop("jupytext", None)
    for cell in nb.cells:
        cell.pop("id", None)  # nbformat 4.4 has no cell ids: no random ids, no churn
    nb.nbformat_minor = 4
    return nbformat.writes(nb) + "\n"


def orphans(folder: Path) -> list[str]:
    """Notebooks with no source next to them: nothing would regenerate them."""
    return [
        f"{nb}: no source {nb.with_suffix('.py').name} (make one: jupytext --to py:percent {nb})"
        for nb in sorted(folder.glob("*.ipynb"))
        if not nb.with_suffix(".py").is_file()
    ]


def sync(folder: Path, *, check: bool) -> list[Path]:
    """Regenerate (or, with check, only compare) every notebook in folder; return the stale ones."""
    stale = []
    for source in sorted(folder.glob("*.py")):
        target = source.with_suffix(".ipynb")
        text = notebook_text(source)
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            write_text_atomic(target, text)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of .py/.ipynb")
    args = parser.parse_args(argv)
    try:
        stale = sync(args.notebooks, check=args.check)
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return 2
    problems = orphans(args.notebooks)
    if args.check:
        problems += [f"{nb}: differs from {nb.with_suffix('.py').name}" for nb in stale]
    else:
        for nb in stale:
            print(f"wrote {nb}")
    if problems:
        print("notebooks out of date (edit the .py sources, then `make format`):", file=sys.stderr)
        print(*problems, sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
