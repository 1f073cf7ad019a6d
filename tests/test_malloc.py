"""cpu_low_memory: glibc gives freed blocks back, the estimate drops its temporaries term, training applies it.

Each allocator check runs in a fresh Python process: the setting is process-wide and permanent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from workbench import malloc
from workbench.config import TrainConfig
from workbench.estimation.estimator import estimate

pytestmark = pytest.mark.skipif(not malloc.supported(), reason="needs Linux with glibc")

# The pattern of a training step in miniature: a 2 MiB block freed first (glibc then raises its
# mmap threshold to 2 MiB), then 200 such blocks each followed by a live 64 KiB block, then the
# big blocks freed. How much of the freed 400 MiB stays resident? The live blocks pin the heap's
# top so that glibc cannot simply trim it; they must be large enough to come from the top rather
# than from a hole left by imports (256-byte pins did, on one CI machine, and let glibc trim it all).
RETENTION = textwrap.dedent(
    """
    import json, sys
    import psutil, torch
    from workbench.malloc import return_freed_memory
    applied = return_freed_memory() if sys.argv[1] == "on" else False
    rss = lambda: psutil.Process().memory_info().rss
    block, pin = 2 << 20, 64 << 10
    first = torch.ones(block // 4); del first
    big, pins = [None] * 200, [None] * 200
    base = rss()
    for i in range(200):
        big[i] = torch.ones(block // 4)
        pins[i] = torch.ones(pin // 4)
    peak = rss()
    big = None
    pinned = 200 * pin
    kept = (rss() - base - pinned) / (peak - base - pinned)
    print(json.dumps({"applied": applied, "kept": kept}))
    """
)


def _retention(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", RETENTION, mode], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_freed_blocks_go_back_to_the_os_only_with_the_setting():
    off, on = _retention("off"), _retention("on")
    assert not off["applied"] and on["applied"]
    assert off["kept"] > 0.5  # glibc's default keeps most of the freed blocks resident
    assert on["kept"] < 0.1


def test_estimate_drops_the_cpu_temporaries_term_with_the_setting():
    cpu = {"memory_gb": 24, "kind": "cpu"}
    shape = TrainConfig(max_length=256, batch_size=4, micro_batch_size=4)  # 1,024 tokens at once
    default = estimate(shape, hardware=cpu)
    low = estimate(shape.replace(cpu_low_memory=True), hardware=cpu)
    assert (
        low.breakdown["overhead"] < default.breakdown["overhead"] - 1e9
    )  # ~1.9 GB at 1,024 tokens
    assert {k: v for k, v in low.breakdown.items() if k != "overhead"} == {
        k: v for k, v in default.breakdown.items() if k != "overhead"
    }
    assert low.cpu_low_memory and not default.cpu_low_memory
    gpu = estimate(shape.replace(cpu_low_memory=True), hardware="l4")
    assert gpu.peak_bytes == estimate(shape, hardware="l4").peak_bytes


@pytest.mark.slow
def test_training_applies_the_setting_on_cpu(tiny_model_dir, tmp_path):
    script = textwrap.dedent(
        f"""
        from workbench import malloc
        from workbench.config import TrainConfig
        from workbench.training.engine import train
        chats = [[{{"role": "user", "content": "Say hi {{i}}."}},
                  {{"role": "assistant", "content": "hi {{i}}"}}] for i in range(8)]
        cfg = TrainConfig(model="tiny-random", run_dir={str(tmp_path / "run")!r}, max_steps=1,
                          batch_size=4, max_length=64, eval_at_start=False, cpu_low_memory=True)
        assert malloc.applied() is None
        result = train(cfg, train_data=chats, eval_data=chats[:2])
        print(result.status, malloc.applied())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["completed", str(malloc.LOW_MEMORY_THRESHOLD)]
