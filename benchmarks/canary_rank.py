"""Ranking a canary among random candidates: full forwards of every row against the cached prefix.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/canary_rank.py                  # default model
    .venv/bin/python benchmarks/canary_rank.py --model tiny-random --candidates 99    # smoke run

`workbench canaries` scores 1 + candidates rows per canary and checkpoint. The baseline is what it
did before: every row through the whole model in batches of 16, log-softmax over every position.
The engine now runs the tokens all rows share once and only each row's own tokens per batch.
Both variants score the same rows, alternated, `--rounds` times; the table gives medians and the
largest difference between the two variants' scores.
"""

from __future__ import annotations

import argparse
import statistics
import time


def full_forwards(model, tokenizer, conversations, batch_size: int = 16) -> list[float]:
    """The previous implementation: each row whole, right-padded, logits at every position."""
    import torch

    from workbench.templating import encode_chat

    encoded = [encode_chat(tokenizer, c, max_length=256) for c in conversations]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: list[float] = []
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        width = max(len(e.input_ids) for e in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        scored = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, e in enumerate(batch):
            ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
            mask[row, : len(e.input_ids)] = 1
            scored[row, : len(e.input_ids)] = torch.tensor(e.labels_mask, dtype=torch.bool)
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask).logits
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        token_logp = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        out += (token_logp * scored[:, 1:]).sum(dim=1).tolist()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--candidates", type=int, default=999)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.models import ensure_tiny_model, model_dir
    from workbench.provenance.canaries import answer_log_likelihoods, make_canaries

    torch.manual_seed(0)
    folder = ensure_tiny_model() if args.model == "tiny-random" else model_dir(args.model)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    canary = make_canaries(1, seed=0)[0]
    secrets = [f"{(7919 * i) % 10**6:06d}" for i in range(1, args.candidates + 1)]
    rows = [canary.conversation()] + [canary.conversation(s) for s in secrets]
    variants = {
        "full forwards (before)": full_forwards,
        "cached prefix (now)": answer_log_likelihoods,
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    scores: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, score in variants.items():
            started = time.perf_counter()
            scores[name] = score(model, tokenizer, rows)
            seconds[name].append(time.perf_counter() - started)
    base = statistics.median(seconds["full forwards (before)"])
    print(f"\n{len(rows)} rows, {args.model}, {args.rounds} rounds alternated (median seconds)")
    print(f"{'variant':<24} {'seconds':>8} {'vs before':>10}")
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"{name:<24} {median:>8.2f} {median / base:>9.2f}x")
    a, b = scores.values()
    print(f"largest score difference: {max(abs(x - y) for x, y in zip(a, b, strict=True)):.2e}")


if __name__ == "__main__":
    main()
