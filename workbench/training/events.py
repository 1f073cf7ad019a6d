"""Training events and the sinks that listen to them: history, JSONL log, NaN guard, early stopping, stop flag.

The engine calls, in order: `on_train_begin`, then per optimizer step `on_step_end`, `on_log` every
`log_every` steps, `on_evaluate` after each evaluation, `on_samples` after it when the run answers
sample prompts (training/samples.py), `on_save` after each complete checkpoint, and `on_train_end`
once with the final status. A callback may ask to stop by calling
`state.request_stop(status, message)`; the engine then saves a checkpoint (unless the run
diverged) and returns. No UI here: views in `workbench/ui/` are callbacks too.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SampleAnswer:
    """One prompt's greedy answer at one evaluation: the `on_samples` payload and a line of
    samples.jsonl (training/samples.py writes and reads them)."""

    step: int
    index: int  # which prompt: its position among the first eval rows (0-based)
    prompt: list[dict[str, str]]  # the chat messages answered (the eval row without its answer)
    answer: str
    seconds: float  # this evaluation's generation time, all prompts together (one batch)

    @property
    def question(self) -> str:
        """The last user message: what a view shows as the prompt."""
        users = [m["content"] for m in self.prompt if m.get("role") == "user"]
        return users[-1] if users else ""


@dataclass
class TrainState:
    """What the engine tells every callback. Read it; change it only through `request_stop`."""

    run_dir: str = ""
    max_steps: int = 0
    step: int = 0
    epoch: float = 0.0
    tokens_seen: int = 0  # real (non-padding) tokens, all processes
    started_at: float = field(default_factory=time.monotonic)
    status: str = "running"  # running | completed | stopped | diverged | failed
    message: str = ""
    stop_requested: bool = False
    stop_status: str = "stopped"
    model: Any = field(
        default=None, repr=False
    )  # the model being trained (for callbacks that probe it)

    stamps: dict[str, tuple[Any, float]] = field(default_factory=dict, repr=False)  # see _stamp

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.elapsed if self.elapsed > 0 else 0.0

    def eta_seconds(self, first_step: int = 0) -> float | None:
        done = self.step - first_step
        if done <= 0 or self.max_steps <= 0:
            return None
        return self.elapsed / done * (self.max_steps - self.step)

    def request_stop(self, status: str = "stopped", message: str = "") -> None:
        if not self.stop_requested or status == "diverged":
            self.stop_status, self.message = status, message or self.message
        self.stop_requested = True


class Callback:
    """Base class: override the events you need. Every method receives the shared TrainState."""

    def on_train_begin(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState) -> None: ...

    def on_log(self, state: TrainState, logs: dict[str, float]) -> None: ...

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None: ...

    def on_samples(self, state: TrainState, answers: list[SampleAnswer]) -> None: ...

    def on_save(self, state: TrainState, checkpoint: str) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...


class History(Callback):
    """Keeps every logged record in memory: `records` (train logs and eval results, in order)."""

    def __init__(self, records: list[dict[str, Any]] | None = None):
        self.records: list[dict[str, Any]] = list(records or [])
        self._lock = threading.Lock()  # views read from another thread

    def on_log(self, state: TrainState, logs: dict[str, float]) -> None:
        self._add({"kind": "train", **_stamp(state, "train"), **logs})

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._add({"kind": "eval", **_stamp(state, "eval"), **metrics})

    def _add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.records.append(record)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.records)

    def series(self, key: str, kind: str | None = None) -> tuple[list[int], list[float]]:
        rows = [r for r in self.snapshot() if key in r and (kind is None or r["kind"] == kind)]
        return [r["step"] for r in rows], [r[key] for r in rows]


class JsonlLog(Callback):
    """Appends one JSON line per train log and per evaluation to `path` (flushed each time)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_log(self, state: TrainState, logs: dict[str, float]) -> None:
        self._write({"kind": "train", **_stamp(state, "train"), **logs})

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._write({"kind": "eval", **_stamp(state, "eval"), **metrics})

    def _write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=_json_number) + "\n")


class NanGuard(Callback):
    """Stops the run with status `diverged` when a logged loss or gradient norm is NaN or infinite.

    The engine logs with NaN filtering off, so one bad step makes the interval's mean loss NaN:
    the run stops at the first log after it, and no checkpoint of the broken weights is written.
    """

    keys = ("loss", "grad_norm", "eval_loss")

    def on_log(self, state: TrainState, logs: dict[str, float]) -> None:
        self._check(state, logs)

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._check(state, metrics)

    def _check(self, state: TrainState, values: dict[str, float]) -> None:
        bad = [k for k in self.keys if k in values and not math.isfinite(values[k])]
        if bad:
            state.request_stop(
                "diverged",
                f"Training diverged at step {state.step}: {', '.join(f'{k}={values[k]}' for k in bad)}. "
                "The last complete checkpoint was kept. Lower learning_rate (e.g. by 10x), raise "
                "warmup_ratio, or check the data for empty or extreme rows, then train again.",
            )


class EarlyStopping(Callback):
    """Stops when eval loss has not improved by `min_delta` for `patience` evaluations in a row."""

    def __init__(self, patience: int, min_delta: float = 0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad = math.inf, 0

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        loss = metrics.get("eval_loss")
        if loss is None or not math.isfinite(loss):
            return
        if loss < self.best - self.min_delta:
            self.best, self.bad = loss, 0
            return
        self.bad += 1
        if self.bad >= self.patience:
            state.request_stop(
                "stopped",
                f"Early stopping at step {state.step}: eval loss did not improve for {self.bad} evaluations.",
            )


class StopFlag(Callback):
    """A thread-safe stop button: `flag.set()` from anywhere; training stops after the current step."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "Stopped by the user."

    def set(self, reason: str = "Stopped by the user.") -> None:
        self.reason = reason
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def on_step_end(self, state: TrainState) -> None:
        if self._event.is_set():
            state.request_stop(
                "stopped", f"{self.reason} A checkpoint was saved at step {state.step}."
            )


def _stamp(state: TrainState, kind: str) -> dict[str, Any]:
    """Step, epoch, tokens and time of an event; every sink of one event records the same time."""
    key = (state.step, state.tokens_seen)
    last = state.stamps.get(kind)
    if last is None or last[0] != key:
        last = state.stamps[kind] = (key, round(state.elapsed, 3))
    return {
        "step": state.step,
        "epoch": round(state.epoch, 4),
        "tokens": state.tokens_seen,
        "time": last[1],
    }


def _json_number(value: Any) -> Any:
    return float(value) if hasattr(value, "__float__") else str(value)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (an unfinished last line, from a killed run, is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class ProgressLines(Callback):
    """One plain line per log and evaluation (for terminals and CI logs, where bars flood).

    tok/s and ETA count this process's own steps, tokens and training time: after a resume, the
    steps and tokens of the earlier process are not divided by this one's time, and the time spent
    in evaluations (from the end of the step before to the result) is left out.
    """

    def __init__(self, write: Any):
        self._write = write  # e.g. a logger method, or the CLI's line printer
        self._first_step, self._first_tokens = 0, 0
        self._started: float | None = None
        self._eval_s, self._last_step_end = 0.0, time.monotonic()

    def on_train_begin(self, state: TrainState) -> None:
        self._first_step, self._first_tokens = state.step, state.tokens_seen
        self._started = self._last_step_end = time.monotonic()

    def on_step_end(self, state: TrainState) -> None:
        self._last_step_end = time.monotonic()

    def on_log(self, state: TrainState, logs: dict[str, float]) -> None:
        started = state.started_at if self._started is None else self._started
        elapsed = time.monotonic() - started - self._eval_s
        done = state.step - self._first_step
        parts = [f"step {state.step}/{state.max_steps}"]
        parts += [f"{k} {logs[k]:.4g}" for k in ("loss", "learning_rate") if k in logs]
        rate = (state.tokens_seen - self._first_tokens) / elapsed if elapsed > 0 else 0.0
        parts.append(f"{rate:.0f} tok/s")
        if done > 0 and state.max_steps > 0:
            parts.append(f"eta {elapsed / done * (state.max_steps - state.step):.0f} s")
        self._write("  ".join(parts))

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        self._eval_s += time.monotonic() - self._last_step_end
        self._last_step_end = time.monotonic()
        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))
        self._write(f"step {state.step}/{state.max_steps}  eval  {shown}")
