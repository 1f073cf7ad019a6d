"""The lever trial: was fine-tuning needed? Prompting, retrieval and short fine-tunes, scored on the same rows.

Every arm answers the eval rows notebook 04 compares on (the run's held-out split, the first
`max_eval_rows`), scored with the metrics notebook 04 picks for the data:

    zero-shot    the base model, the prompt as it is (its system prompt included)
    few-shot k   the k training rows most like the question (BM25) as earlier turns
    retrieval k  the k passages of a knowledge file (or of the training answers) most like the
                 question, in the system message
    few-shot k + schema   the largest few-shot arm again, decoded against the task's JSON schema
                 (comparison/constrained.py): the strongest prompt-only baseline for a JSON task.
                 With the fine-tunes, the largest one is also scored decoded that way
                 ("<technique> 100% + schema"). Only for data with a schema (orders-json).
    <technique> p%   a short fine-tune (the run's config) on a nested p% slice of the training rows,
                 with the steps scaled to the slice (the same epochs), then the tuned model answers

Each arm's means come with 95% bootstrap intervals; fine-tuning's lead over the best prompt-only
arm is a paired difference on the same rows, with its interval. The recommendation follows from
those numbers and a margin: fine-tune only when it beats the cheapest good alternative clearly.
The fine-tunes' scores against their row counts give a learning curve (estimation/learning_curve).
"""

from __future__ import annotations

import gc
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError
from ..rundir import RunDir
from .lever_decision import decide, means_and_intervals
from .lever_result import Arm, LeverTrial, _pct

log = logging.getLogger(__name__)

ARMS = ("zero-shot", "few-shot", "retrieval", "finetune", "constrained")
DEFAULT_ARMS = ARMS[:4]  # constrained decoding is asked for by name: it needs a schema


# -- the trial ------------------------------------------------------------------------------------


def lever_trial(
    cfg: TrainConfig,
    *,
    arms: Sequence[str] = DEFAULT_ARMS,
    few_shot_k: Sequence[int] = (3,),
    retrieval_k: int = 3,
    knowledge: str | Path | None = None,
    fractions: Sequence[float] = (0.25, 0.5, 1.0),
    max_eval_rows: int | None = None,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    metric: str | None = None,
    margin: float = 0.05,
    hourly_price: float | None = None,
    advice: Any = None,
    n_boot: int = 1000,
    save: bool = True,
) -> LeverTrial:
    """Run the arms on `cfg`'s data and model and decide; with `save`, write lever_trial.json/.html
    into `cfg.run_dir` (the fine-tunes train in its `lever_trial/` folder).

    arms: any of "zero-shot", "few-shot", "retrieval", "finetune", "constrained" (the largest
        few-shot prompt and the largest fine-tune again, decoded against the task's JSON schema;
        a ConfigError for data without one). few_shot_k: one few-shot arm per k.
    knowledge: the file retrieval searches (.txt/.md/.json/.jsonl); None: the sample's knowledge
        file when it ships one (product-jargon's catalogue.json), else the training answers.
    fractions: the slices of the training rows the fine-tunes train on (nested, seeded).
    max_eval_rows: None uses `cfg.max_eval_rows` (the rows notebook 04 compares), 0 every row.
    margin: how much fine-tuning must beat the best prompt-only arm by (absolute, on `metric`).
    advice: the advisor's `Advice`, shown beside the measured answer.
    """
    from ..comparison.comparison import examples_from, resolve_metrics, task_schema
    from ..comparison.generation import GenerationSettings
    from ..comparison.metrics import primary_metric
    from ..training.batching import load_splits

    _check(arms, few_shot_k, fractions, margin)
    if cfg.task == "classification":
        raise ConfigError(
            "The lever trial compares generated answers; a classification run is measured against "
            "prompting by notebook 04 (`compare_classifier`: the tuned head vs the base model "
            "prompted zero-shot and few-shot, with paired intervals). Set run_lever_trial = False."
        )
    started = time.perf_counter()
    splits = load_splits(cfg.replace(max_eval_rows=None))
    if not len(splits.eval):
        raise ConfigError("The lever trial needs eval rows: eval_dataset is 'none'.")
    cap = cfg.max_eval_rows if max_eval_rows is None else (max_eval_rows or None)
    examples = examples_from(splits.eval, max_rows=cap)
    chosen = resolve_metrics(None, examples=examples, dataset=str(cfg.dataset))
    primary = metric or primary_metric(chosen)
    if primary not in chosen:
        raise ConfigError(
            f"metric {primary!r} is not scored on this data; known: {', '.join(chosen)}."
        )
    schema = task_schema(None, str(cfg.dataset)) if "constrained" in arms else None
    if "constrained" in arms and schema is None:
        raise ConfigError(
            f"The 'constrained' arm decodes against the task's JSON schema, and {cfg.dataset} has "
            "none (a shipped sample with a schema.json, such as orders-json, does). Leave it out."
        )
    settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size)
    scorer = _Scorer(examples, chosen, settings, n_boot=n_boot, seed=cfg.seed, schema=schema)
    results: list[Arm] = []
    prompt_arms = [a for a in arms if a != "finetune"]
    if prompt_arms:
        results += _prompt_arms(
            cfg, prompt_arms, splits.train, scorer, few_shot_k, retrieval_k, knowledge
        )
    if "finetune" in arms:
        results += _finetune_arms(cfg, splits, scorer, fractions)
    trial = decide(
        LeverTrial(
            dataset=str(cfg.dataset),
            model=str(cfg.model),
            metric=primary,
            row_ids=[e.row_id for e in examples],
            arms=results,
            margin=margin,
            recommendation="",
            reasons=[],
            advisor=getattr(advice, "title", None),
            hourly_price=hourly_price,
            settings={
                "few_shot_k": list(few_shot_k),
                "retrieval_k": retrieval_k,
                "fractions": list(fractions),
                "generation": settings.to_dict(),
                "split": cfg.split,
                "split_field": cfg.split_field,
            },
        ),
        n_boot=n_boot,
        seed=cfg.seed,
    )
    trial.seconds = round(time.perf_counter() - started, 1)
    if save:
        write_lever_trial(trial, cfg.run_dir)
    return trial


def _check(
    arms: Sequence[str], ks: Sequence[int], fractions: Sequence[float], margin: float
) -> None:
    unknown = [a for a in arms if a not in ARMS]
    if unknown or not arms:
        raise ConfigError(
            f"Unknown lever-trial arm(s) {unknown or arms}: choose from {', '.join(ARMS)}."
        )
    if any(int(k) < 1 for k in ks):
        raise ConfigError(f"few_shot_k must be whole numbers >= 1, got {list(ks)}.")
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ConfigError(f"fractions must be in (0, 1], got {list(fractions)}.")
    if not 0 <= margin <= 1:
        raise ConfigError(f"margin must be in [0, 1] (a share of the metric), got {margin!r}.")


class _Scorer:
    """Answers the eval rows with a model and prompts made from them, and scores the answers."""

    def __init__(
        self,
        examples: list[Any],
        metrics: Mapping[str, Any],
        settings: Any,
        *,
        n_boot: int,
        seed: int,
        schema: Mapping[str, Any] | None = None,
    ):
        self.examples, self.metrics, self.settings = examples, metrics, settings
        self.n_boot, self.seed = n_boot, seed
        self.schema = schema  # set: the "constrained" arms were asked for

    def arm(
        self,
        name: str,
        lever: str,
        model: Any,
        tokenizer: Any,
        prompts: list[Any],
        *,
        constrain: bool = False,
        **extra: Any,
    ) -> Arm:
        from ..comparison import metrics as M
        from ..comparison.generation import generate

        settings = replace(self.settings, constrain=constrain)
        t0 = time.perf_counter()
        answers = generate(model, tokenizer, prompts, settings=settings, schema=self.schema)
        answer_s = round(time.perf_counter() - t0, 2)
        per_row = [
            M.score(self.metrics, a, e.reference)
            for a, e in zip(answers, self.examples, strict=True)
        ]
        scores = {m: [row[m] for row in per_row] for m in self.metrics}
        means, intervals = means_and_intervals(scores, n_boot=self.n_boot, seed=self.seed)
        log.info("%s: %s in %.0f s", name, {k: _pct(v) for k, v in means.items()}, answer_s)
        return Arm(
            name,
            lever,
            scores,
            means,
            intervals,
            answers,
            answer_s,
            prompt_tokens=_prompt_tokens(tokenizer, prompts),
            **extra,
        )


def _prompt_arms(
    cfg: TrainConfig,
    arms: Sequence[str],
    train: Any,
    scorer: _Scorer,
    ks: Sequence[int],
    retrieval_k: int,
    knowledge: str | Path | None,
) -> list[Arm]:
    from ..models import load_model
    from . import prompting as P

    model, tokenizer = load_model(cfg.model, technique="full")
    model.eval()
    prompts = [e.prompt for e in scorer.examples]
    queries = [P.query_text(p) for p in prompts]
    out = []
    if "zero-shot" in arms:
        out.append(scorer.arm("zero-shot", "prompt", model, tokenizer, prompts))
    if "few-shot" in arms or "constrained" in arms:
        shots = P.shots_from(train.conversations)
        finder = P.Retriever([P.query_text(s.turns) for s in shots])
        asked = [k for k in ks if "few-shot" in arms]
        held = [max(ks)] if "constrained" in arms else []
        for k, constrain in [(k, False) for k in asked] + [(k, True) for k in held]:
            shown = [
                P.few_shot_prompt(p, [shots[i] for i in finder.top(q, k)])
                for p, q in zip(prompts, queries, strict=True)
            ]
            name = f"few-shot k={k}" + (" + schema" if constrain else "")
            detail = {"k": int(k), "constrained": constrain}
            out.append(
                scorer.arm(
                    name, "prompt", model, tokenizer, shown, constrain=constrain, detail=detail
                )
            )
    if "retrieval" in arms:
        source = knowledge or sample_knowledge(cfg.dataset)
        passages = P.knowledge_passages(source) if source else P.answers_of(train.conversations)
        finder = P.Retriever(passages)
        shown = [
            P.with_notes(p, [passages[i] for i in finder.top(q, retrieval_k)])
            for p, q in zip(prompts, queries, strict=True)
        ]
        where = Path(source).name if source else "the training answers"
        detail = {"k": retrieval_k, "searched": where, "passages": len(passages)}
        out.append(
            scorer.arm(f"retrieval k={retrieval_k}", "rag", model, tokenizer, shown, detail=detail)
        )
    del model
    gc.collect()
    return out


def _finetune_arms(
    cfg: TrainConfig,
    splits: Any,
    scorer: _Scorer,
    fractions: Sequence[float],
) -> list[Arm]:
    from ..comparison.generation import load_run
    from ..data.dataset import ChatDataset
    from ..training.engine import train

    rows = list(range(len(splits.train)))
    random.Random(cfg.seed).shuffle(rows)  # nested slices: 25% is the start of 50%
    eval_data = ChatDataset(
        conversations=[
            e.prompt + [{"role": "assistant", "content": e.reference}] for e in scorer.examples
        ],
        provenance=splits.eval.provenance,
        row_ids=[e.row_id for e in scorer.examples],
    )
    out = []
    for fraction in sorted(set(fractions)):
        n = max(1, round(fraction * len(rows)))
        keep = sorted(rows[:n])
        subset = ChatDataset(
            conversations=[splits.train.conversations[i] for i in keep],
            provenance=splits.train.provenance,
            row_ids=[splits.train.row_ids[i] for i in keep],
        )
        steps = max(1, round(cfg.max_steps * fraction)) if cfg.max_steps > 0 else cfg.max_steps
        name = f"{cfg.technique} {round(100 * fraction)}%"
        run_dir = RunDir(cfg.run_dir).lever_trial_dir / f"{cfg.technique}-{round(100 * fraction)}"
        arm_cfg = cfg.replace(
            run_dir=str(run_dir), max_steps=steps, max_train_rows=None, max_eval_rows=None
        )
        log.info("%s: training on %d rows for %s steps", name, n, steps)
        result = train(arm_cfg, train_data=subset, eval_data=eval_data)
        if result.status != "completed":
            raise ConfigError(
                f"The lever trial's fine-tune {name} did not finish ({result.status}: {result.message})."
            )
        pair = load_run(run_dir)
        largest = fraction == max(fractions)
        with pair.use("tuned") as model:
            # the largest again, decoded against the schema, when the "constrained" arm was asked
            constrained = scorer.schema is not None and largest
            for constrain in (False, True) if constrained else (False,):
                out.append(
                    scorer.arm(
                        name + (" + schema" if constrain else ""),
                        "finetune",
                        model,
                        pair.tokenizer,
                        [e.prompt for e in scorer.examples],
                        constrain=constrain,
                        train_s=round(result.wall_time_s, 1),
                        train_rows=n,
                        steps=result.steps,
                        detail={
                            "run_dir": str(run_dir),
                            "fraction": fraction,
                            "constrained": constrain,
                        },
                    )
                )
        del pair, model
        gc.collect()
    return out


def sample_knowledge(dataset: Any) -> Path | None:
    """The knowledge file a shipped sample brings for retrieval (catalogue.json, knowledge.*), or None."""
    from ..data.dataset import SAMPLES_DIR

    if not isinstance(dataset, str) or not (SAMPLES_DIR / dataset).is_dir():
        return None
    for name in (
        "knowledge.md",
        "knowledge.txt",
        "knowledge.jsonl",
        "knowledge.json",
        "catalogue.json",
    ):
        if (SAMPLES_DIR / dataset / name).is_file():
            return SAMPLES_DIR / dataset / name
    return None


def _prompt_tokens(tokenizer: Any, prompts: list[Any]) -> float:
    from ..templating import render_chat

    sizes = [
        len(
            tokenizer(
                render_chat(tokenizer, p, add_generation_prompt=True), add_special_tokens=False
            )["input_ids"]
        )
        for p in prompts
    ]
    return round(sum(sizes) / len(sizes), 1) if sizes else 0.0


def write_lever_trial(trial: LeverTrial, run_dir: str | Path) -> dict[str, Path]:
    """lever_trial.json, lever_trial.html and figures/lever_trial.html (self-contained, plotly inside)."""
    from ..plots import write_figures_html
    from .lever_html import lever_trial_figures

    RunDir(run_dir).ensure()
    paths = trial.save(run_dir)
    paths["figures"] = write_figures_html(
        lever_trial_figures(trial), RunDir(run_dir).lever_figures_html, title="Lever trial"
    )
    return paths


__all__ = [
    "ARMS",
    "Arm",
    "LeverTrial",
    "decide",
    "lever_trial",
    "sample_knowledge",
    "write_lever_trial",
]
