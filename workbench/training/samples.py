"""Sample generations during training: a few fixed eval prompts answered greedily at every evaluation.

`TrainConfig.sample_prompts = N` (0, the default, is off) takes the prompts of the first N eval
rows and answers them with `comparison.generation.generate` (greedy: the same weights always give
the same answer) after each evaluation, so you read how the answers change as the loss falls.
The model is switched to eval mode (no dropout) and back, under inference mode (no gradients).
Cost: one batched generation of up to `sample_max_new_tokens` tokens per evaluation, added to
the evaluation's time, never to a step's.

The answers go to `samples.jsonl` (one `SampleAnswer` per prompt per evaluation; the whole file
rewritten atomically each time, like a checkpoint), to the tracker run as text, and to the
callbacks' `on_samples` event (the live views). On resume the file keeps the answers up to the
checkpoint's step, the rule metrics.jsonl follows, so replayed evaluations are not doubled.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ArtifactError
from ..io import write_text_atomic
from ..rundir import RunDir, decode, to_plain
from .events import Callback, SampleAnswer, TrainState

log = logging.getLogger(__name__)

Conversation = list[dict[str, str]]


def read_samples(run_dir: str | Path) -> list[SampleAnswer]:
    """The answers in `run_dir/samples.jsonl`, in order; [] when sampling was off (no file)."""
    path = RunDir(run_dir).samples_jsonl
    if not path.is_file():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArtifactError(
                f"{path} line {number}: not valid JSON ({exc.msg}). Training rewrites the whole "
                "file at each evaluation: resume or rerun the training."
            ) from exc
        out.append(decode(SampleAnswer, data, file=f"{path} line {number}"))
    return out


def write_samples(run_dir: str | Path, answers: Sequence[SampleAnswer]) -> Path:
    text = "".join(json.dumps(to_plain(a), ensure_ascii=False) + "\n" for a in answers)
    return write_text_atomic(RunDir(run_dir).samples_jsonl, text)


def kept_samples(rd: RunDir, checkpoint: Path | None) -> list[SampleAnswer]:
    """On resume: the answers up to the checkpoint's step (later ones are generated again)."""
    if checkpoint is None:
        return []
    step = int(checkpoint.name.rsplit("-", 1)[-1])
    return [a for a in read_samples(rd.root) if a.step <= step]


def prompts_of(rows: Any, n: int) -> list[Conversation]:
    """The prompts of the first `n` eval rows that have one: a chat without its last answer, or
    a preference pair's prompt."""
    prompts = []
    for row in rows:
        if len(prompts) == n:
            break
        prompt = row.prompt if hasattr(row, "prompt") else _before_last_answer(row)
        if any(m.get("role") == "user" for m in prompt):
            prompts.append([dict(m) for m in prompt])
    return prompts


def _before_last_answer(conversation: Conversation) -> Conversation:
    last = max((i for i, m in enumerate(conversation) if m["role"] == "assistant"), default=None)
    return list(conversation[:last] if last is not None else conversation)


class SampleGenerations(Callback):
    """Answers the fixed prompts after each evaluation; saves, tracks and passes the answers on.

    The engine adds it after the views, so the eval point is drawn before generation starts;
    `listeners` (the views) then get `on_samples(state, answers)`.
    """

    def __init__(
        self,
        *,
        model: Any,
        tokenizer: Any,
        prompts: list[Conversation],
        max_new_tokens: int,
        run_dir: RunDir,
        kept: Sequence[SampleAnswer] = (),
        listeners: Sequence[Callback] = (),
        tracker: Any = None,
    ):
        from ..comparison.generation import GenerationSettings

        self.model, self.tokenizer, self.prompts = model, tokenizer, prompts
        self.settings = GenerationSettings(max_new_tokens=max_new_tokens, do_sample=False)
        self.rd, self.listeners, self.tracker = run_dir, list(listeners), tracker
        self.answers: list[SampleAnswer] = list(kept)
        write_samples(self.rd.root, self.answers)  # a resume drops the answers past its checkpoint

    def on_evaluate(self, state: TrainState, metrics: dict[str, float]) -> None:
        if not self.prompts:
            return
        fresh = self.answer(state.step)
        self.answers = [a for a in self.answers if a.step != state.step] + fresh
        write_samples(self.rd.root, self.answers)
        self._track(state.step, fresh)
        for cb in self.listeners:
            cb.on_samples(state, fresh)

    def answer(self, step: int) -> list[SampleAnswer]:
        """The prompts' greedy answers from the weights as they are now."""
        from ..comparison.generation import generate

        was_training = self.model.training
        started = time.perf_counter()
        self.model.eval()  # no dropout: the answer depends on the weights alone
        try:
            texts = generate(self.model, self.tokenizer, self.prompts, settings=self.settings)
        finally:
            self.model.train(was_training)
        seconds = round(time.perf_counter() - started, 3)
        log.info("step %d: %d sample answers in %.2f s", step, len(texts), seconds)
        return [
            SampleAnswer(step, i, prompt, text, seconds)
            for i, (prompt, text) in enumerate(zip(self.prompts, texts, strict=True))
        ]

    def _track(self, step: int, answers: list[SampleAnswer]) -> None:
        """The evaluation's answers as one text artifact of the tracker run (samples/step-N.jsonl)."""
        if self.tracker is None or self.tracker.backend != "mlflow":
            return
        try:
            from mlflow import MlflowClient

            text = "".join(json.dumps(to_plain(a), ensure_ascii=False) + "\n" for a in answers)
            client = MlflowClient(tracking_uri=self.tracker.tracking_uri)
            client.log_text(self.tracker.run_id, text, f"samples/step-{step:06d}.jsonl")
        except Exception as exc:  # a tracker fault must not stop the training
            log.warning("Could not log the sample answers to MLflow: %s", exc)


def sample_generations(
    cfg: Any,
    rd: RunDir,
    trainer: Any,
    splits: Any,
    checkpoint: Path | None,
    *,
    listeners: Sequence[Callback],
    tracker: Any,
) -> list[Callback]:
    """[SampleGenerations] when `cfg.sample_prompts` > 0 and this is the main process, else []."""
    if cfg.sample_prompts <= 0 or not trainer.is_world_process_zero():
        return []
    prompts = prompts_of(splits.eval, cfg.sample_prompts)
    if len(prompts) < cfg.sample_prompts:
        log.warning(
            "sample_prompts=%d but the eval split has %d prompts: answering those",
            cfg.sample_prompts,
            len(prompts),
        )
    return [
        SampleGenerations(
            model=trainer.model,
            tokenizer=trainer.processing_class,
            prompts=prompts,
            max_new_tokens=cfg.sample_max_new_tokens,
            run_dir=rd,
            kept=kept_samples(rd, checkpoint),
            listeners=listeners,
            tracker=tracker,
        )
    ]
