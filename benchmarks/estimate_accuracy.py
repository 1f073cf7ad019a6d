"""How far the memory estimator is from real numbers: published peaks, and probes on this machine.

Part 1 compares `estimate` with published like-for-like figures (torchtune README, QLoRA paper).
Part 2 runs the calibration probe (real AdamW steps, each in a fresh process, peak RSS) for full,
LoRA and QLoRA on the embedded SmolLM2-135M at several shapes (512, 1,024 and 2,048 tokens per
step by default) and prints estimated vs measured peaks. Run it on an idle machine: about 6 min.

    .venv/bin/python benchmarks/estimate_accuracy.py [--model smollm2-135m-instruct]
        [--shapes 128x4 256x4 512x4] [--steps 3] [--skip-probe] [--cpu-low-memory]

--cpu-low-memory repeats part 2 with TrainConfig.cpu_low_memory on (glibc gives freed blocks of
>= 1 MiB back at once) and prints peak RSS and tokens/s as on/off ratios per shape.
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from workbench.config import TrainConfig  # noqa: E402
from workbench.estimation.calibration import probe  # noqa: E402
from workbench.estimation.estimator import estimate  # noqa: E402
from workbench.estimation.presets import get_hardware  # noqa: E402
from workbench.models import DEFAULT_MODEL  # noqa: E402
from workbench.techniques import get_technique  # noqa: E402

GIB = 2**30
# torchtune README, "Memory and training speed" (Llama 3.1 8B on one RTX 4090): batch 2, a dataset
# packed to 2048 tokens, torch.compile on; its 8B_lora/qlora_single_device configs add activation
# checkpointing, CEWithChunkedOutputLoss (8 chunks) and dtype bf16 for every tensor, LoRA rank 8
# (alpha 16, no dropout) on q/v/output projections + MLP (QLoRA also k), torch AdamW.
# The estimate is asked for the same: grad_checkpointing, loss_chunks=8, pure_bf16.
# QLoRA paper (arXiv:2305.14314): 65B on one 48 GB GPU with r=64 on all linear layers, batch 1
# (its Guanaco runs), gradient checkpointing, paged 8-bit AdamW: peft + bitsandbytes, as here.
TORCHTUNE = dict(model="llama-3.1-8b", max_length=2048, batch_size=2, gradient_checkpointing=True)


def _torchtune(technique: str, published_gib: float, targets: str, note: str) -> tuple:
    config = TrainConfig(
        technique=technique,
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules=targets,
        **TORCHTUNE,
    )
    return (
        f"torchtune Llama 3.1 8B {get_technique(technique).title.split()[0]}, 1x4090",
        published_gib * GIB,
        f"yes, with loss_chunks=8 + pure_bf16{note}",
        dict(config=config, hardware="rtx-4090-24gb", loss_chunks=8, pure_bf16=True),
    )


PUBLISHED = [
    _torchtune("lora", 16.2, "q_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", ""),
    _torchtune(
        "qlora", 7.4, "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", " (torchao NF4)"
    ),
    (
        "QLoRA paper: LLaMA 65B on one 48 GB GPU (< 48 GB)",
        48e9,
        "yes: peft + bitsandbytes; fits under 48 GB",
        dict(
            config=TrainConfig(
                model="llama-65b",
                technique="qlora",
                max_length=512,
                batch_size=1,
                gradient_checkpointing=True,
                lora_r=64,
                lora_alpha=16,
                lora_dropout=0.1,
            ),
            hardware="rtx-a6000-48gb",
            optimizer="paged_adamw_8bit",
        ),
    ),
]


def published_table() -> None:
    print("Part 1: estimate vs published peak memory (GPU, bf16)")
    print(f"{'case':<52} {'published':>10} {'estimate':>10} {'ratio':>6}  like-for-like?")
    for label, published, like, kwargs in PUBLISHED:
        est = estimate(**kwargs)
        # CUDA peaks (max_memory_allocated) leave out the CUDA context the estimate counts.
        context = get_hardware(kwargs["hardware"]).overhead_bytes
        peak = est.peak_bytes - context
        print(
            f"{label:<52} {published / GIB:>6.1f} GiB {peak / GIB:>6.1f} GiB {peak / published:>6.2f}  {like}"
        )
        if "torchtune" in label:
            plain = estimate(**{**kwargs, "loss_chunks": 1, "pure_bf16": False})
            peak = plain.peak_bytes - context
            print(
                f"{'':<52} {'':>10} {peak / GIB:>6.1f} GiB {peak / published:>6.2f}  "
                "the same run the workbench's way (peft fp32 adapters, one full-vocabulary loss)"
            )


def probe_table(
    model: str, shapes: list[tuple[int, int]], steps: int, *, low_memory: bool = False
) -> dict[tuple[int, int, str], object]:
    mode = ", cpu_low_memory on" if low_memory else ""
    print(
        f"\nPart {3 if low_memory else 2}: estimate vs probe on this CPU ({model}, {steps} AdamW "
        f"steps, a fresh process each{mode})"
    )
    print(
        f"{'seq x batch':<12} {'technique':<10} {'measured':>10} {'estimate':>10} {'error':>7} "
        f"{'tok/s meas':>10} {'tok/s est':>10}"
    )
    errors, results = [], {}
    for seq_len, batch_size in shapes:
        for technique in ("full", "lora", "qlora"):
            cfg = TrainConfig(
                model=model,
                technique=technique,
                max_length=seq_len,
                batch_size=batch_size,
                cpu_low_memory=low_memory,
            )
            r = results[seq_len, batch_size, technique] = probe(cfg, steps=steps)
            error = (r.estimated_bytes - r.peak_bytes) / r.peak_bytes
            errors.append(abs(error))
            print(
                f"{f'{seq_len} x {batch_size}':<12} {technique:<10} {r.peak_bytes / 1e9:>7.2f} GB "
                f"{r.estimated_bytes / 1e9:>7.2f} GB {error:>+7.1%} "
                f"{r.tokens_per_s:>10.0f} {r.estimate.tokens_per_s:>10.0f}",
                flush=True,
            )
    print(f"largest |error|: {max(errors):.1%}; median: {statistics.median(errors):.1%}")
    return results


def low_memory_table(default: dict, low: dict) -> None:
    """cpu_low_memory against the default allocator: same shapes, probes run by this same script."""
    print("\ncpu_low_memory on vs off (ratios on / off)")
    print(f"{'seq x batch':<12} {'technique':<10} {'peak RSS':>9} {'tokens/s':>9}")
    for key, off in default.items():
        on = low[key]
        print(
            f"{f'{key[0]} x {key[1]}':<12} {key[2]:<10} {on.peak_bytes / off.peak_bytes:>8.2f}x "
            f"{on.tokens_per_s / off.tokens_per_s:>8.2f}x"
        )


def _shape(text: str) -> tuple[int, int]:
    seq, _, batch = text.partition("x")
    return int(seq), int(batch)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument(
        "--shapes",
        nargs="+",
        type=_shape,
        default=[(128, 4), (256, 4), (512, 4)],
        help="seq_len x batch_size per probe, e.g. 256x4 (default: 128x4 256x4 512x4)",
    )
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--skip-probe", action="store_true")
    parser.add_argument(
        "--cpu-low-memory",
        action="store_true",
        help="also probe every shape with cpu_low_memory on and print the on/off ratios",
    )
    args = parser.parse_args()
    published_table()
    if not args.skip_probe:
        default = probe_table(args.model, args.shapes, args.steps)
        if args.cpu_low_memory:
            low = probe_table(args.model, args.shapes, args.steps, low_memory=True)
            low_memory_table(default, low)


if __name__ == "__main__":
    main()
