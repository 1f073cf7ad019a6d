"""Strip outputs and execution counts from notebooks/ (or, with --check, fail if any are present)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def strip(nb: dict) -> dict:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    nb.get("metadata", {}).pop("widgets", None)
    nb.get("metadata", {}).pop("papermill", None)
    return nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("paths", nargs="*", default=sorted(Path("notebooks").glob("*.ipynb")))
    args = parser.parse_args()
    dirty = []
    for path in map(Path, args.paths):
        text = path.read_text(encoding="utf-8")
        clean = json.dumps(strip(json.loads(text)), indent=1, ensure_ascii=False) + "\n"
        if clean != text:
            dirty.append(path)
            if not args.check:
                path.write_text(clean, encoding="utf-8")
    if args.check and dirty:
        print(
            "notebooks with outputs or unstripped metadata (run `make format`):", *dirty, sep="\n  "
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
