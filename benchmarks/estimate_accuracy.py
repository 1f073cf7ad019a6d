"""How far the memory estimator is from real numbers: published peaks, and probes on this machine.

Part 1 compares `estimate` with published like-for-like figures (torchtune README, QLoRA paper).
Part 2 runs the calibration probe (real AdamW steps, each in a fresh process, peak RSS) for full,
LoRA and QLoRA on the embedded SmolLM2-135M and prints estimated vs measured peaks.

    .venv/bin/python benchmarks/estimate_accuracy.py [--model smollm2-135m-instruct]
        [--seq-len 256] [--batch-size 4] [--steps 3] [--skip-probe]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from workbench.config import TrainConfig  # noqa: E402
from workbench.estimate import estimate, probe  # noqa: E402

GIB = 2**30
# torchtune README, "Memory and training speed": Llama 3.1 8B on one RTX 4090, batch 2, packed
# sequence length 2048, activation checkpointing on (its 8B_*_single_device configs), LoRA rank 8
# on q/v/output projections + MLP. QLoRA paper (arXiv:2305.14314): 65B on one 48 GB GPU with
# r=64 on all linear layers, batch 1 (its Guanaco runs), gradient checkpointing.
TORCHTUNE_TARGETS = "q_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
LIKE_FOR_LIKE = {
    "torchtune Llama 3.1 8B LoRA, 1x4090": "no: chunked cross-entropy, torch.compile",
    "torchtune Llama 3.1 8B QLoRA, 1x4090": "no: chunked cross-entropy, bf16 embeddings",
    "QLoRA paper: LLaMA 65B on one 48 GB GPU (< 48 GB)": "yes: peft + bitsandbytes; fits under 48 GB",
}
PUBLISHED = [
    (
        "torchtune Llama 3.1 8B LoRA, 1x4090",
        16.2 * GIB,
        dict(
            model="llama-3.1-8b",
            technique="lora",
            hardware="rtx-4090-24gb",
            seq_len=2048,
            batch_size=2,
            grad_checkpointing=True,
            config=TrainConfig(lora_r=8, lora_alpha=16, target_modules=TORCHTUNE_TARGETS),
        ),
    ),
    (
        "torchtune Llama 3.1 8B QLoRA, 1x4090",
        7.4 * GIB,
        dict(
            model="llama-3.1-8b",
            technique="qlora",
            hardware="rtx-4090-24gb",
            seq_len=2048,
            batch_size=2,
            grad_checkpointing=True,
            config=TrainConfig(lora_r=8, lora_alpha=16, target_modules=TORCHTUNE_TARGETS),
        ),
    ),
    (
        "QLoRA paper: LLaMA 65B on one 48 GB GPU (< 48 GB)",
        48e9,
        dict(
            model="llama-65b",
            technique="qlora",
            hardware="rtx-a6000-48gb",
            seq_len=512,
            batch_size=1,
            grad_checkpointing=True,
            optimizer="paged_adamw_8bit",
            config=TrainConfig(lora_r=64, lora_alpha=16, lora_dropout=0.1),
        ),
    ),
]


def published_table() -> None:
    print("Part 1: estimate vs published peak memory (GPU, bf16)")
    print(f"{'case':<52} {'published':>10} {'estimate':>10} {'ratio':>6}  like-for-like?")
    for label, published, kwargs in PUBLISHED:
        est = estimate(**kwargs)
        # CUDA peaks (max_memory_allocated) leave out the CUDA context the estimate counts.
        peak = est.peak_bytes - 0.5e9
        print(
            f"{label:<52} {published / GIB:>6.1f} GiB {peak / GIB:>6.1f} GiB {peak / published:>6.2f}  "
            f"{LIKE_FOR_LIKE[label]}"
        )
        logits = est.breakdown["logits"]
        if "torchtune" in label:
            print(
                f"{'':<52} {'':>10} {(peak - logits) / GIB:>6.1f} GiB  without the full-vocabulary logits"
            )


def probe_table(model: str, seq_len: int, batch_size: int, steps: int) -> None:
    print(
        f"\nPart 2: estimate vs probe on this CPU ({model}, seq {seq_len} x batch {batch_size}, {steps} steps)"
    )
    print(
        f"{'technique':<10} {'measured':>10} {'estimate':>10} {'error':>7} {'tok/s meas':>10} {'tok/s est':>10}"
    )
    for technique in ("full", "lora", "qlora"):
        cfg = TrainConfig(
            model=model, technique=technique, max_length=seq_len, batch_size=batch_size
        )
        r = probe(cfg, steps=steps)
        error = (r.estimated_bytes - r.peak_bytes) / r.peak_bytes
        print(
            f"{technique:<10} {r.peak_bytes / 1e9:>7.2f} GB {r.estimated_bytes / 1e9:>7.2f} GB {error:>+7.1%} "
            f"{r.tokens_per_s:>10.0f} {r.estimate.tokens_per_s:>10.0f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--skip-probe", action="store_true")
    args = parser.parse_args()
    published_table()
    if not args.skip_probe:
        probe_table(args.model, args.seq_len, args.batch_size, args.steps)


if __name__ == "__main__":
    main()
