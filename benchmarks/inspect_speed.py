"""How long `inspect_dataset` takes on synthetic support chats, per stage and per 10k rows.

    python benchmarks/inspect_speed.py                 # 100k rows, SmolLM2 tokenizer, with eval split
    python benchmarks/inspect_speed.py --rows 20000 --model none

The target (issue #3): 100k rows in under a minute on 2 CPU cores. Rows are random but realistic
in length (a 1-3 turn support chat, ~60-200 tokens), with 2% exact copies, 2% near copies and
1% personal data, so every code path does real work.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import time

from workbench.models import DEFAULT_MODEL

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "order parcel refund invoice kettle lamp blender courier delivery address account app "
    "charged twice late broken replacement label return discount code points login week "
    "monday friday thanks please help sorry the a my is was not and to of for on in it"
).split()


def synthetic(n: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return (
            " ".join(rng.choices(WORDS, k=k)).capitalize() + f" Order MS-{rng.randint(1000, 9999)}."
        )

    rows = []
    for i in range(n):
        roll = rng.random()
        if rows and roll < 0.02:
            rows.append(copy.deepcopy(rng.choice(rows)))
            continue
        if rows and roll < 0.04:
            near = copy.deepcopy(rng.choice(rows))
            near[0]["content"] += " Thanks"
            rows.append(near)
            continue
        conv = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            conv += [
                {"role": "user", "content": text(rng.randint(10, 40))},
                {"role": "assistant", "content": text(rng.randint(15, 60))},
            ]
        if roll > 0.99:
            conv[0]["content"] += f" Mail me at user{i}@example.com."
        rows.append(conv)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="'none' skips token lengths")
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args()

    from workbench.data.dataset import ChatDataset, Provenance
    from workbench.inspection.report import inspect_dataset, load_tokenizer

    model = None if args.model == "none" else args.model
    tokenizer = load_tokenizer(model)  # loading the tokenizer is not part of the measurement
    rows = synthetic(args.rows + args.rows // 10)
    train = ChatDataset(rows[: args.rows], Provenance(source="<synthetic>", format="chat"))
    eval_ = ChatDataset(rows[args.rows :], Provenance(source="<synthetic eval>", format="chat"))
    inspect_dataset(
        train.head(200), tokenizer_or_model=tokenizer
    )  # imports (datasketch, jinja) once
    t0, c0 = time.perf_counter(), time.process_time()
    report = inspect_dataset(
        train, tokenizer_or_model=tokenizer, max_length=args.max_length, eval_ds=eval_
    )
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    per10k = total / args.rows * 10_000
    print(
        f"inspect_dataset on {args.rows} rows (+{len(eval_)} eval), model {args.model}, "
        f"{os.cpu_count()} CPU core(s)"
    )
    print(f"{'stage':<12} {'seconds':>8} {'s / 10k rows':>13}")
    for stage, sec in report.seconds.items():
        print(f"{stage:<12} {sec:8.2f} {sec / args.rows * 10_000:13.2f}")
    print(f"{'total':<12} {total:8.2f} {per10k:13.2f}")
    print(
        f"CPU time {cpu:.1f} s (all threads); load average {os.getloadavg()[0]:.1f} "
        "(other processes on the machine inflate the wall time)"
    )
    print(f"findings: {report.kind_counts()}")
    cpu100k = cpu / args.rows * 100_000
    print(
        f"target: 100k rows < 60 s. Wall here projects to {per10k * 10:.1f} s for 100k; CPU time "
        f"projects to {cpu100k:.1f} s, an upper bound for the wall time on 2 idle cores (only the "
        f"tokenizer runs threads) -> {'OK' if min(per10k * 10, cpu100k) < 60 else 'TOO SLOW'}"
    )


if __name__ == "__main__":
    main()
