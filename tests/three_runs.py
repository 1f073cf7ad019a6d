"""Three finished, compared tiny runs that differ only in learning rate, for the run comparison
tests (tests/test_compare_runs.py, tests/browser/test_notebook_06.py).

They learn something real: six short answers with a code in each, asked back on the same prompts,
so the scores follow from training rather than from how a dependency release happens to shape a
random model's noise (the earlier fixture's lr-mid and lr-fast drifted into a tie at chrF 1.2%
after a fresh install). Measured: chrF lr-slow 0.0%, lr-mid 59.4% [51.2, 67.8], lr-fast 32.3%
(too high a rate): one best run, with an interval.
"""

from __future__ import annotations

import json
from pathlib import Path

RATES = (("lr-slow", 1e-5), ("lr-mid", 1e-3), ("lr-fast", 1e-2))
STEPS, LOG_EVERY = 40, 10  # 4 train-loss points per run


def train_three_runs(root: Path) -> list[Path]:
    from workbench.comparison.saved_run import compare_run
    from workbench.config import TrainConfig
    from workbench.training.engine import train

    data = root / "codes.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Code for item {i}?"},
                {"role": "assistant", "content": f"Item {i} has code K{i}{i}7."},
            ]
        }
        for i in range(6)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dirs = []
    for name, lr in RATES:
        cfg = TrainConfig(
            model="tiny-random",
            technique="full",
            dataset=str(data),
            eval_dataset=str(data),
            run_dir=str(root / name),
            max_steps=STEPS,
            batch_size=6,
            max_length=64,
            log_every=LOG_EVERY,
            eval_every=STEPS // 2,
            learning_rate=lr,
            warmup_ratio=0.0,
        )
        result = train(cfg)
        assert result.completed, result.message
        compare_run(
            cfg.run_dir, max_eval_prompts=6, max_probe_prompts=3, max_new_tokens=12, batch_size=6
        )
        assert (Path(cfg.run_dir) / "comparison.json").is_file()
        dirs.append(Path(cfg.run_dir))
    return dirs
