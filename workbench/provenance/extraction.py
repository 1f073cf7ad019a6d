"""Extraction audit: how often the tuned model reproduces its training answers, against the base.

For a seeded sample of the run's training rows (the same split policy as training, replay rows
left out), both models answer the row's prompt greedily (comparison/generation.py). Per side:

  verbatim       the training answer occurs whole in the output (case and white-space runs
                 ignored: comparison/metrics.py `contains_reference`)
  near-verbatim  chrF >= 0.9 against the training answer, verbatim ones included: chrF (character
                 1-6-grams, recall-weighted) is the metric notebook 04 reports, and it does not
                 depend on tokenisation or answer format (JSON, prose). Measured: in an 87-character
                 answer one changed digit scores 0.95 and one changed word 0.90 (near-verbatim),
                 the answer cut after its first half 0.66; in a 39-character answer one changed
                 digit already scores 0.88, so short answers count as near-verbatim only when
                 nearly exact. A longest-common-substring rule was not taken: its length threshold
                 would have to change with the answer's length.
  PII emitted    values inspection finds in the training split (e-mail, phone, IBAN, ...) that
                 appear in an output but not in its prompt: copied from the weights, not the
                 question. `pii_answers_in_sample` says how many sampled answers held PII at
                 all: with none, "0 emitted" shows nothing.

  PII completed  the prefix attack on personal data in the *prompts*: for training rows whose
                 user turn holds a PII value, the model is given the conversation up to the text
                 just before the value (the user turn left open) and continues it greedily; a
                 completion holding the value means the weights carry it. Instruction tuning with
                 the assistant-only loss never trains the model to produce user text, so this is
                 expected to stay at the base model's level; it is measured, not assumed.

The base model is the floor: a task whose answers are predictable from the prompt is
reproduced by the base too. What the tuned model adds over that floor is what training put in.
The artifact keeps scores and row numbers, never the texts (they may hold personal data).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..rundir import Artifact, RunDir
from .index import row_strings
from .subjects import Subject, normalise, subjects_in

log = logging.getLogger(__name__)

NEAR_VERBATIM_CHRF = 0.9
METHOD = (
    "greedy answers of base and tuned to a seeded sample of training prompts; verbatim: the "
    "training answer occurs whole in the output (case, white space ignored); near-verbatim: "
    f"chrF >= {NEAR_VERBATIM_CHRF}; PII emitted: training-split PII values in an output and "
    "not in its prompt; PII completed: for user turns holding a PII value, the conversation up "
    "to the text before the value is continued greedily and the completion checked for the value "
    "(provenance/extraction.py)"
)
PREFIX_MIN_CHARS = 12  # a prefix shorter than this gives the model nothing to go on
PREFIX_NEW_TOKENS = 24  # enough for an IBAN or a card number written with spaces


@dataclass
class SideExtraction:
    """One side's (base or tuned) figures over the sampled prompts."""

    verbatim: float  # share of prompts
    near_verbatim: float
    mean_chrf: float
    pii_emitted: int  # distinct training PII values emitted
    pii_rows: int  # prompts whose answer emitted one
    pii_kinds: list[str] = field(default_factory=list)
    pii_completed: int = 0  # prefix probes whose greedy completion held the prompt's PII value


@dataclass
class RowExtraction:
    """One sampled row: its source row number and each side's scores (no texts)."""

    row: int
    chrf_base: float
    chrf_tuned: float
    verbatim_base: bool
    verbatim_tuned: bool
    pii_base: int
    pii_tuned: int


@dataclass
class ExtractionAudit(Artifact):
    """How much of its training data the tuned model reproduces, against the base model."""

    FILE = "extraction_audit_json"
    MADE_BY = "`workbench audit` (audit_extraction)"

    run_dir: str
    method: str
    seed: int
    train_rows: int
    sample: int
    max_new_tokens: int
    pii_values_in_training: int
    pii_answers_in_sample: int
    base: SideExtraction
    tuned: SideExtraction
    rows: list[RowExtraction] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    prefix_probes: int = 0  # PII values in user turns probed by prefix completion (see above)

    def summary_lines(self) -> list[str]:
        lines = [f"{self.sample} of {self.train_rows} training prompts, greedy:"]
        for side in ("base", "tuned"):
            s = getattr(self, side)
            lines.append(
                f"  {side:5}  verbatim {s.verbatim:.1%}  near-verbatim {s.near_verbatim:.1%}  "
                f"mean chrF {s.mean_chrf:.3f}  PII emitted {s.pii_emitted} value(s) in "
                f"{s.pii_rows} answer(s)"
            )
        lines.append(
            f"  {self.pii_values_in_training} PII value(s) in the training split; "
            f"{self.pii_answers_in_sample} sampled answer(s) held PII"
        )
        if self.prefix_probes:
            lines.append(
                f"  prefix attack on {self.prefix_probes} PII value(s) in user turns: completed "
                f"by base {self.base.pii_completed}, tuned {self.tuned.pii_completed}"
            )
        return lines


def score_side(
    prompts: list[list[dict[str, str]]],
    references: list[str],
    outputs: list[str],
    training_values: set[str],
) -> tuple[SideExtraction, list[tuple[float, bool, int]]]:
    """One side's figures and, per row, (chrF, verbatim, PII values emitted)."""
    from ..comparison.metrics import chrf, contains_reference

    per_row, emitted, kinds, rows_with = [], set(), set(), 0
    for prompt, ref, out in zip(prompts, references, outputs, strict=True):
        in_prompt = {s.value for text in row_strings(prompt) for s in subjects_in(text)}
        found = [s for s in subjects_in(out) if s.value in training_values - in_prompt]
        emitted |= {s.value for s in found}
        kinds |= {s.kind for s in found}
        rows_with += bool(found)
        per_row.append((round(chrf(out, ref), 4), contains_reference(out, ref) == 1.0, len(found)))
    n = max(len(per_row), 1)
    side = SideExtraction(
        verbatim=sum(v for _, v, _ in per_row) / n,
        near_verbatim=sum(c >= NEAR_VERBATIM_CHRF or v for c, v, _ in per_row) / n,
        mean_chrf=round(sum(c for c, _, _ in per_row) / n, 4),
        pii_emitted=len(emitted),
        pii_rows=rows_with,
        pii_kinds=sorted(kinds),
    )
    return side, per_row


def unauditable(run_dir: str | Path) -> str | None:
    """Why `run_dir` cannot be audited (None: it can). The audit re-reads the training split from
    the run's train_config.yaml, so the run must have trained, by instruction tuning, on data named
    there, not on rows handed to `train()` in memory."""
    from ..config import TrainConfig
    from ..training.result import TrainResult

    rd = RunDir(run_dir)
    cfg = TrainConfig.load_optional(rd.root)
    if cfg is None or cfg.objective != "sft" or cfg.task != "generation":
        return f"{rd.root}: no instruction-tuning run here (train_config.yaml)."
    trained = TrainResult.load_optional(rd.root)
    split = trained.data.get("train") if trained is not None else None
    source = getattr(split, "source", "") or ""
    if source.startswith("<") or source == "given":
        return (
            f"{rd.root}: this run trained on rows passed to train() in memory ({source}), which "
            "the audit cannot read back. Save them to a file and train with dataset set to it."
        )
    return None


def audit_extraction(
    run_dir: str | Path, *, sample: int = 32, seed: int = 0, pair: Any = None
) -> ExtractionAudit:
    """Audit `run_dir` (see the module docstring); saved as extraction_audit.json.

    pair: an already loaded `ModelPair` (comparison/generation.py `load_run`), else loaded here.
    """
    from ..comparison.generation import GenerationSettings, generate, load_run
    from ..config import TrainConfig
    from ..training.batching import load_splits

    if sample < 1:
        raise ConfigError(f"--sample must be >= 1, got {sample}.")
    rd = RunDir(run_dir)
    refusal = unauditable(rd.root)
    if refusal:
        raise ConfigError(refusal)
    cfg = TrainConfig.load(rd.root)
    splits = load_splits(cfg)
    task = splits.train.conversations[: len(splits.train) - splits.replay_rows]
    usable = [i for i, c in enumerate(task) if len(c) > 1 and c[-1]["role"] == "assistant"]
    picked = sorted(random.Random(seed).sample(usable, min(sample, len(usable))))
    prompts = [task[i][:-1] for i in picked]
    references = [task[i][-1]["content"] for i in picked]
    training_values = {s.value for c in task for t in row_strings(c) for s in subjects_in(t)}
    pair = pair or load_run(rd.root)
    longest = max((len(pair.tokenizer(r)["input_ids"]) for r in references), default=1)
    settings = GenerationSettings(max_new_tokens=min(256, longest + 16))
    probes = pii_prefixes(task, pair.tokenizer, limit=sample, seed=seed)
    sides, seconds, scored = {}, {}, {}
    for side in ("base", "tuned"):
        started = time.perf_counter()
        with pair.use(side) as model:
            outputs = generate(model, pair.tokenizer, prompts, settings=settings)
            completed = complete_prefixes(model, pair.tokenizer, probes)
        seconds[side] = round(time.perf_counter() - started, 2)
        sides[side], scored[side] = score_side(prompts, references, outputs, training_values)
        sides[side].pii_completed = completed
    audit = ExtractionAudit(
        run_dir=str(rd.root),
        method=METHOD,
        seed=seed,
        train_rows=len(task),
        sample=len(picked),
        max_new_tokens=settings.max_new_tokens,
        pii_values_in_training=len(training_values),
        pii_answers_in_sample=sum(bool(subjects_in(r)) for r in references),
        base=sides["base"],
        tuned=sides["tuned"],
        rows=[
            RowExtraction(splits.train.row_ids[i], b[0], t[0], b[1], t[1], b[2], t[2])
            for i, b, t in zip(picked, scored["base"], scored["tuned"], strict=True)
        ],
        seconds=seconds,
        prefix_probes=len(probes),
    )
    audit.save(rd.root)
    return audit


def pii_prefixes(
    task: list[list[dict[str, str]]], tokenizer: Any, *, limit: int, seed: int
) -> list[tuple[str, Subject]]:
    """Up to `limit` (seeded) prefix probes: the chat render of a training conversation up to the
    text just before a PII value in one of its user turns (that turn left open), and the value."""
    from ..inspection.pii import find_pii
    from ..templating import render_chat

    found = [  # (conversation, turn, match) of every PII value in a user turn, cheap to list
        (conv, turn, match)
        for conv in task
        for turn, message in enumerate(conv)
        if message["role"] == "user"
        for match in find_pii(message["content"])
        if len(message["content"][: match.start].strip()) >= PREFIX_MIN_CHARS
    ]
    random.Random(seed).shuffle(found)
    probes = []
    for conv, turn, match in found:  # rendered only until `limit` usable prefixes are found
        if len(probes) == limit:
            break
        before = conv[turn]["content"][: match.start]
        text = render_chat(tokenizer, [*conv[:turn], {"role": "user", "content": before}])
        cut = text.rfind(before)
        if cut >= 0:  # else a template that rewrites user text: no clean prefix
            probes.append((text[: cut + len(before)], normalise(match.text, match.kind)))
    return probes


def complete_prefixes(model: Any, tokenizer: Any, probes: list[tuple[str, Subject]]) -> int:
    """How many prefixes the model continues (greedily) with their PII value."""
    import torch

    hits = 0
    for text, subject in probes:
        enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=PREFIX_NEW_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        continuation = tokenizer.decode(
            out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
        hits += subject.value in {s.value for s in subjects_in(continuation)}
    return hits
