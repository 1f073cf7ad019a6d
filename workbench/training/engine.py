"""The training engine: one readable path from a TrainConfig to a TrainResult, on transformers' Trainer.

    config -> model + technique -> conversations -> batches -> Trainer (+ events) -> artifacts

CPU policy (measured on the 2-core machines, design.md): fp32 only, no dataloader workers, no tqdm,
no per-step extras, so Trainer costs about what a plain loop costs (benchmarks/train_throughput.py);
a tracker named by `report_to` gets what the Trainer logs anyway (training/tracking.py). Every
run leaves in its run directory: `train_config.yaml`, `metrics.jsonl`, `checkpoints/` (atomic,
resumable), `adapter/` (or `model/`), `merged/` on request, `figures/loss.html`, `provenance.json` (the
data subjects' salted hashes, provenance/index.py), `samples.jsonl` when `sample_prompts` is on
(training/samples.py) and `train_result.json`.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..io import write_json_atomic
from ..rundir import RunDir
from .build import build_sft, training_args
from .checkpoints import (
    clear_previous,
    is_final,
    kept_records,
    newest,
    remove_leftovers,
    resume_point,
)
from .claim import claim, locked
from .events import (
    Callback,
    EarlyStopping,
    History,
    JsonlLog,
    NanGuard,
    StopFlag,
    TrainState,
)
from .result import TrainResult
from .samples import sample_generations
from .tracking import end_tracking, start_tracking

log = logging.getLogger(__name__)


def estimate_flops(
    *, tokens: int, total_params: int, trainable_params: int, recompute: bool = False
) -> float:
    """Training FLOPs: per token 2N forward + 2N backward through activations + 2T weight gradients.

    N = all parameters, T = trained ones. Full fine-tuning (T = N) gives the usual 6 N per token;
    LoRA (T << N) about 4 N. Gradient checkpointing recomputes the forward: another 2N.
    Attention's quadratic term is left out (small at these lengths).
    """
    per_token = 4 * total_params + 2 * trainable_params + (2 * total_params if recompute else 0)
    return float(per_token) * tokens


# -- the engine ----------------------------------------------------------------------------------


def train(
    cfg: TrainConfig,
    *,
    callbacks: Sequence[Callback] = (),
    resume: bool | str = "auto",
    stop: StopFlag | None = None,
    train_data: Any = None,
    eval_data: Any = None,
) -> TrainResult:
    """Train `cfg` and return a TrainResult (also written to run_dir/train_result.json).

    resume: "auto" continues from the newest complete checkpoint of an unfinished run with the same
    config; True requires one; False starts over; a path resumes from that checkpoint.
    stop: a StopFlag to stop from another thread (the notebook's Stop button).
    train_data / eval_data: a ChatDataset or list of conversations instead of `cfg.dataset`.
    """
    started = time.monotonic()
    rd = claim(RunDir(cfg.run_dir))
    with locked(rd) if _is_main() else contextlib.nullcontext():
        return _train(cfg, rd, started, callbacks, resume, stop, train_data, eval_data)


def _train(
    cfg: TrainConfig,
    rd: RunDir,
    started: float,
    callbacks: Sequence[Callback],
    resume: bool | str,
    stop: StopFlag | None,
    train_data: Any,
    eval_data: Any,
) -> TrainResult:
    from .batching import load_splits
    from .lr_finder import resolve_learning_rate

    remove_leftovers(rd.checkpoints_dir)
    # learning_rate="find": the range test first; the config saved and trained is the rate found
    cfg = resolve_learning_rate(cfg, rd.root, train_data=train_data, eval_data=eval_data)
    checkpoint = resume_point(cfg, rd, resume)
    if checkpoint is None:
        clear_previous(rd)
    cfg.to_yaml(rd.train_config_yaml)
    state = TrainState(run_dir=str(rd.root))
    history = History(kept_records(rd, checkpoint))
    result = TrainResult(status="failed", message="", run_dir=str(rd.root), config=cfg.to_dict())
    result.resumed_from = str(checkpoint) if checkpoint else None
    machine_fault: OSError | None = None  # disk full, permissions: the caller must act, not retry
    tracker = (
        start_tracking(cfg.report_to, rd, resuming=checkpoint is not None) if _is_main() else None
    )
    try:
        if cfg.task == "classification":  # a label head on the backbone: training/classifier.py
            from .classifier import build_classifier

            trainer, tech, info = build_classifier(
                cfg, rd, train_data, eval_data, checkpoint, training_args=training_args
            )
        elif cfg.objective == "sft":
            splits = load_splits(cfg, train_data, eval_data)
            trainer, tech, info = build_sft(cfg, rd, splits, checkpoint)
        else:  # preference tuning (DPO) on pairs: training/preference.py
            from .preference import build_preference

            trainer, tech, info = build_preference(
                cfg, rd, train_data, eval_data, checkpoint, training_args=training_args
            )
        if _is_main():  # the data subjects' salted hashes and the data files: provenance/
            _record_provenance(cfg, rd, info["splits"])
        result.data, result.world_size = info["data"], trainer.args.world_size
        result.trainable_params, result.total_params = info["trainable"], info["total"]
        sinks = _sinks(cfg, rd, history, trainer.is_world_process_zero(), stop) + list(callbacks)
        # after the views: an evaluation's point is drawn before its sample answers are generated
        sinks += sample_generations(
            cfg, rd, trainer, info["splits"], checkpoint, listeners=callbacks, tracker=tracker
        )
        _run(trainer, state, sinks, checkpoint, cfg)
        result.status, result.message = _final_status(state)
        _finish(trainer, tech, cfg, rd, state, result, history)
    except OSError as exc:
        log.error("Training failed: %s", exc)
        result.status, result.message, machine_fault = "failed", f"{type(exc).__name__}: {exc}", exc
    except Exception as exc:  # a failed run still leaves a result saying why
        log.error("Training failed:\n%s", traceback.format_exc())
        result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
    result.wall_time_s = round(time.monotonic() - started, 3)
    result.history = history.snapshot()
    result.checkpoint = _str(newest(rd))
    state.status, state.message = result.status, result.message
    for cb in callbacks:
        cb.on_train_end(state)
    if result.world_size == 1 or _is_main():
        try:
            write_json_atomic(rd.train_result_json, result.to_dict())
            _write_figure(result, rd)
        except OSError:
            if machine_fault is None:
                raise
            log.error("%s could not be written either", rd.train_result_json)
    end_tracking(tracker, rd, status=result.status)  # + config, summary, figures, adapter
    if machine_fault is not None:  # the result (when it could be written) says failed; the
        raise machine_fault  # caller gets the error itself: `workbench train` exits 2 on one line
    return result


def _record_provenance(cfg: TrainConfig, rd: RunDir, splits: Any) -> None:
    from ..provenance.index import record_provenance

    replay = getattr(splits, "replay_rows", 0)
    record_provenance(cfg, rd, train=splits.train, eval=splits.eval, replay_rows=replay)


def _sinks(
    cfg: TrainConfig, rd: RunDir, history: History, main: bool, stop: StopFlag | None
) -> list[Callback]:
    sinks: list[Callback] = [history, NanGuard()]
    if main:
        sinks.append(JsonlLog(rd.metrics_jsonl))
    if cfg.early_stopping_patience:
        sinks.append(EarlyStopping(cfg.early_stopping_patience))
    if stop is not None:
        sinks.append(stop)
    return sinks


def _run(
    trainer: Any,
    state: TrainState,
    sinks: list[Callback],
    checkpoint: Path | None,
    cfg: TrainConfig,
) -> None:
    """trainer.train with the event bridge; Ctrl-C / kernel interrupt stops after the step with a checkpoint."""
    from .trainer import EventBridge

    bridge = getattr(trainer, "event_bridge", EventBridge)  # DPO forwards its reward metrics too
    trainer.add_callback(bridge(state, sinks))
    trainer.run_state = state
    if checkpoint is not None and is_final(checkpoint):
        _restore_final(trainer, checkpoint, state)
    else:
        _train_steps(trainer, state, checkpoint)
    if trainer.eval_dataset is not None and not state.stop_status == "diverged":
        last_eval = max((r["step"] for r in sinks[0].snapshot() if r["kind"] == "eval"), default=-1)
        if last_eval != trainer.state.global_step:
            trainer.evaluate()  # the final eval loss, whatever the cadence


def _train_steps(trainer: Any, state: TrainState, checkpoint: Path | None) -> None:
    with _interrupt_stops(state):
        try:
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        except KeyboardInterrupt:  # a second interrupt, or one outside the main thread's handler
            state.request_stop("stopped", "Interrupted.")
            trainer._save_checkpoint(trainer.model, None)


def _restore_final(trainer: Any, checkpoint: Path, state: TrainState) -> None:
    """Killed after the last checkpoint, before the result: load it and finish without a step.

    Training on would run one step past the end and save other weights than the run that was
    not interrupted; the checkpoint already holds that run's final weights and state.
    """
    from transformers import TrainerState

    log.info("%s is the final checkpoint: finishing the run without training", checkpoint)
    trainer._load_from_checkpoint(str(checkpoint))
    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    trainer._initial_num_input_tokens_seen = trainer.state.num_input_tokens_seen
    state.step, state.max_steps = trainer.state.global_step, trainer.state.max_steps
    state.tokens_seen = trainer.state.num_input_tokens_seen


@contextmanager
def _interrupt_stops(state: TrainState) -> Iterator[None]:
    """First SIGINT (kernel interrupt) asks for a clean stop; a second one raises as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if state.stop_requested:
            raise KeyboardInterrupt
        state.request_stop("stopped", f"Interrupted at step {state.step}; a checkpoint was saved.")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _final_status(state: TrainState) -> tuple[str, str]:
    if state.stop_requested:
        return state.stop_status, state.message
    return "completed", f"Trained {state.step} steps."


def _finish(
    trainer: Any,
    tech: Any,
    cfg: TrainConfig,
    rd: RunDir,
    state: TrainState,
    result: TrainResult,
    history: History,
) -> None:
    """Fill the result's numbers and save the adapter / model (not when the weights diverged)."""
    hs = trainer.state
    result.steps, result.max_steps, result.epoch = (
        hs.global_step,
        hs.max_steps,
        float(hs.epoch or 0.0),
    )
    result.tokens_seen = int(hs.num_input_tokens_seen)
    session_tokens = result.tokens_seen - getattr(trainer, "_initial_num_input_tokens_seen", 0)
    result.tokens_per_second = round(session_tokens / max(state.elapsed, 1e-9), 2)
    result.flops = estimate_flops(
        tokens=result.tokens_seen,
        total_params=result.total_params,
        trainable_params=result.trainable_params,
        recompute=cfg.gradient_checkpointing,
    )
    result.metrics = _summary_metrics(history.snapshot())
    if result.status == "diverged" or not trainer.is_world_process_zero():
        return
    from .saving import save_trained

    saved, merged = save_trained(
        trainer.model, trainer.processing_class, tech=tech, cfg=cfg, rd=rd, result=result
    )
    result.adapter_dir, result.merged_dir = _str(saved), _str(merged)


def _summary_metrics(records: list[dict[str, Any]]) -> dict[str, float]:
    train = [r["loss"] for r in records if r["kind"] == "train" and "loss" in r]
    evals = [r["eval_loss"] for r in records if r["kind"] == "eval" and "eval_loss" in r]
    out: dict[str, float] = {}
    if train:
        out["first_train_loss"], out["train_loss"] = train[0], train[-1]
    if evals:
        out["first_eval_loss"], out["eval_loss"], out["best_eval_loss"] = (
            evals[0],
            evals[-1],
            min(evals),
        )
    # DPO runs: reward margin, preference accuracy; classification runs: accuracy, macro-F1
    for key in ("eval_reward_margin", "eval_preference_accuracy", "eval_accuracy", "eval_macro_f1"):
        values = [r[key] for r in records if r["kind"] == "eval" and key in r]
        if values:
            out[f"first_{key}"], out[key] = values[0], values[-1]
    return out


def _str(path: Path | None) -> str | None:
    return str(path) if path else None


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def _write_figure(result: TrainResult, rd: RunDir) -> None:
    try:
        from ..plots import loss_figure

        fig = loss_figure(result.history, title=f"Training loss ({result.status})")
        rd.figures_dir.mkdir(parents=True, exist_ok=True)
        fig.write_html(rd.loss_figure_html, include_plotlyjs=True, full_html=True)
    except ImportError as exc:  # plotly is optional for headless training
        log.warning("Loss figure not written: %s", exc)


def notebook_config(namespace: dict[str, Any], *, use_technique_json: bool = True) -> TrainConfig:
    """The config notebook 03 trains: notebook 02's choice (run_dir/technique.json) when asked for and
    present, then every TrainConfig-named parameter that is not None on top, run_dir always
    (`sample_prompts` only where the run writes answers: not for a classifier)."""
    from dataclasses import fields

    from ..estimation.choice import TechniqueChoice

    names = {f.name for f in fields(TrainConfig)}
    rd = RunDir(namespace["run_dir"])
    base: dict[str, Any] = {}
    choice = TechniqueChoice.load_optional(rd.root) if use_technique_json else None
    if choice is not None:
        base = choice.train_config.to_dict()
        log.info("Using the config chosen in notebook 02 (%s)", rd.technique_json)
    overrides = {k: v for k, v in namespace.items() if k in names and v is not None}
    merged = {**base, **overrides, "run_dir": str(rd.root)}
    if merged.get("task") == "classification" and merged.get("sample_prompts"):
        # the notebook samples answers of every run it trains; a label head writes none
        log.info("sample_prompts is off for a classification run: it writes no answers")
        merged["sample_prompts"] = 0
    return TrainConfig.from_dict(merged, strict=False)
