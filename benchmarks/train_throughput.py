"""Real (non-padding) training tokens/s: workbench.training.engine vs a plain PEFT loop vs TRL's SFTTrainer.

Same model, data rows, LoRA settings (r=16, alpha 32, all-linear), batch size, max_length and
learning rate for every variant; each does one pass over the same rows. Variants are alternated
round by round so a busy machine slows them alike. Timing covers the training steps only (from
the start of training to the end of the last optimizer step): model loading and saving are left out
for every variant. Two rates are printed: real tokens per wall-clock second, and real tokens per
CPU-second of the process (all threads). On a machine shared with other jobs the wall-clock rate
swings with their load; the CPU-time rate measures the work each engine does per token.

    .venv/bin/python benchmarks/train_throughput.py                       # default model, 2 rounds
    .venv/bin/python benchmarks/train_throughput.py --model tiny-random --rows 16 --rounds 1
    .venv/bin/python benchmarks/train_throughput.py --trl-defaults        # + TRL defaults (bf16 on CPU: very slow)

Variants: plain (hand-written fp32 PEFT loop over exactly the batches workbench.training.engine's default
length-grouped sampler yields), workbench (defaults), workbench-unsorted (random batches, as TRL),
workbench+plot (a live FigureWidget plot redrawn every 0.5 s, logging every step: the UI's cost),
workbench+packing, trl-fast (SFTTrainer with bf16 and gradient checkpointing off), trl-defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.config import TrainConfig  # noqa: E402
from workbench.models import DEFAULT_MODEL  # noqa: E402
from workbench.training.events import Callback  # noqa: E402


def rows(dataset: str, n: int) -> list[list[dict[str, str]]]:
    from workbench.data.dataset import load_dataset

    return load_dataset(dataset, split="train").conversations[:n]


def base_config(args: argparse.Namespace, run_dir: str, **over) -> TrainConfig:
    fields = dict(
        model=args.model,
        technique="lora",
        lora_r=16,
        lora_alpha=32,
        lora_dropout=0.05,
        max_length=args.max_length,
        batch_size=args.batch_size,
        learning_rate=2e-4,
        epochs=1.0,
        warmup_ratio=0.0,
        log_every=1,
        eval_every=0,
        eval_at_start=False,
        save_every=0,
        run_dir=run_dir,
        seed=0,
    )
    return TrainConfig(**{**fields, **over})


# -- variants: each returns (real tokens, wall seconds, CPU seconds of the training steps) -----------------------------


def plain_loop(args, convs) -> tuple[int, float, float]:
    import torch

    from workbench.models import load_model
    from workbench.techniques import get_technique
    from workbench.training.batching import (
        Collator,
        EncodedDataset,
        LengthGroupedSampler,
        encode_dataset,
    )

    cfg = base_config(args, "unused")
    torch.manual_seed(0)
    model, tok = load_model(cfg.model, technique="lora")
    model = get_technique("lora").prepare(model, cfg)
    items, _ = encode_dataset(tok, convs, max_length=cfg.max_length)
    data, collate = EncodedDataset(items), Collator(pad_token_id=tok.pad_token_id)
    # the same batches as workbench.training.engine's default sampler (seed 0, epoch 0): only the engine differs
    order = list(LengthGroupedSampler(data.lengths(), batch_size=cfg.batch_size, seed=cfg.seed))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    model.train()
    tokens, start, cpu = 0, time.perf_counter(), time.process_time()
    for b in range(0, len(order), cfg.batch_size):
        batch = collate([data[i] for i in order[b : b + cfg.batch_size]])
        tokens += int(batch.pop("real_tokens"))
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # one sync per step, as any loop that logs would do
    return tokens, time.perf_counter() - start, time.process_time() - cpu


class StepTimer(Callback):
    """Time from the start of training to the end of the last step, and the tokens it saw."""

    def on_train_begin(self, state) -> None:
        self.start, self.first_tokens = time.perf_counter(), state.tokens_seen
        self.cpu_start = time.process_time()

    def on_step_end(self, state) -> None:
        self.end, self.tokens = time.perf_counter(), state.tokens_seen - self.first_tokens
        self.cpu_end = time.process_time()


def workbench_run(args, convs, *, plot: bool = False, **over) -> tuple[int, float, float]:
    from workbench.training.engine import train

    timer, callbacks = StepTimer(), []
    if plot:
        from workbench.ui.live import LiveLossPlot, ProgressLine

        live, progress = (
            LiveLossPlot(backend="widget", min_interval=0.5),
            ProgressLine(backend="widget", min_interval=0.5),
        )
        live.show()
        progress.show()
        callbacks = [live, progress]
    with tempfile.TemporaryDirectory() as tmp:
        result = train(
            base_config(args, tmp, **over),
            callbacks=[timer, *callbacks],
            train_data=convs,
            eval_data=[],
        )
    if result.status != "completed":
        raise RuntimeError(result.message)
    return timer.tokens, timer.end - timer.start, timer.cpu_end - timer.cpu_start


def trl_run(args, convs, *, fast: bool) -> tuple[int, float, float]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from workbench.models import load_model

    class Timer(TrainerCallback):
        def on_train_begin(self, a, state, control, **kw):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_step_end(self, a, state, control, **kw):
            self.end, self.tokens = time.perf_counter(), state.num_input_tokens_seen
            self.cpu_end = time.process_time()

    model, tok = load_model(args.model, technique="full")
    timer = Timer()
    extra = {"bf16": False, "gradient_checkpointing": False} if fast else {}
    with tempfile.TemporaryDirectory() as tmp:
        config = SFTConfig(
            output_dir=tmp,
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=1,
            learning_rate=2e-4,
            max_length=args.max_length,
            lr_scheduler_type="cosine",
            seed=0,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            dataloader_num_workers=0,
            include_num_input_tokens_seen="non_padding",
            max_steps=args.trl_defaults_steps if not fast else -1,
            disable_tqdm=True,
            **extra,
        )
        lora = LoraConfig(
            r=16,
            lora_alpha=32,
            lora_dropout=0.05,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=Dataset.from_list([{"messages": c} for c in convs]),
            processing_class=tok,
            peft_config=lora,
            callbacks=[timer],
        )
        trainer.train()
    return timer.tokens, timer.end - timer.start, timer.cpu_end - timer.cpu_start


VARIANTS = {
    "plain": plain_loop,
    "workbench": lambda a, c: workbench_run(a, c),
    "workbench-unsorted": lambda a, c: workbench_run(a, c, group_by_length=False),
    "workbench+plot": lambda a, c: workbench_run(a, c, plot=True),
    "workbench+packing": lambda a, c: workbench_run(a, c, packing=True),
    "trl-fast": lambda a, c: trl_run(a, c, fast=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--dataset", default="orders-json")
    parser.add_argument(
        "--rows", type=int, default=32, help="rows per pass (default 32: 4 steps of 8)"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="variants to run (default: all)")
    parser.add_argument(
        "--trl-defaults",
        action="store_true",
        help="also run TRL with its defaults (once; slow on CPU)",
    )
    parser.add_argument("--trl-defaults-steps", type=int, default=1)
    parser.add_argument("--json", help="write the raw measurements here")
    args = parser.parse_args()
    import logging

    import torch

    logging.basicConfig(level=logging.ERROR)
    convs = rows(args.dataset, args.rows)
    names = args.only or list(VARIANTS)
    results: dict[str, list[tuple[float, float]]] = {n: [] for n in names}  # (tok/s, tok/CPU-s)
    print(
        f"{args.model} on {args.dataset}: {len(convs)} rows, batch {args.batch_size}, max_length {args.max_length}, "
        f"torch threads {torch.get_num_threads()}, {args.rounds} rounds",
        flush=True,
    )
    runs = [
        (rnd, name)
        for rnd in range(args.rounds)
        for name in (names if rnd % 2 == 0 else names[::-1])
    ]
    if args.trl_defaults:
        runs.append((0, "trl-defaults"))
        results["trl-defaults"] = []
    plain_loop(
        args, convs[: args.batch_size]
    )  # one warm-up step, untimed: one-time costs (allocator, kernels) hit no variant
    for rnd, name in runs:
        variant = VARIANTS.get(name) or (lambda a, c: trl_run(a, c, fast=False))
        tokens, wall, cpu = variant(args, convs)
        results[name].append((tokens / wall, tokens / cpu))
        print(
            f"  round {rnd + 1} {name:20s} {tokens:6d} tokens {wall:7.1f} s wall {cpu:7.1f} s CPU "
            f"{tokens / wall:8.1f} tok/s {tokens / cpu:8.1f} tok/CPU-s",
            flush=True,
        )
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def print_table(results: dict[str, list[tuple[float, float]]]) -> None:
    """Medians and ratios. On a shared machine wall-clock rates swing with the load; tokens per
    CPU-second of this process (all its threads) is the steadier measure of the work each engine does."""

    def med(name: str, i: int) -> float | None:
        values = [v[i] for v in results.get(name, [])]
        return statistics.median(values) if values else None

    print(
        "\n| variant | runs | real tok/s (wall) | real tok/CPU-s | vs plain (CPU) | vs workbench (CPU) | vs plain (wall) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in results:
        wall, cpu = med(name, 0), med(name, 1)
        ratio = lambda x, ref: f"{x / ref:.2f}x" if x and ref else "-"  # noqa: E731
        print(
            f"| {name} | {len(results[name])} | {wall:,.1f} | {cpu:,.1f} | {ratio(cpu, med('plain', 1))} "
            f"| {ratio(cpu, med('workbench', 1))} | {ratio(wall, med('plain', 0))} |"
        )


if __name__ == "__main__":
    main()
