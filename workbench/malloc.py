"""Lower peak memory for CPU training: have glibc give freed activation-sized blocks back at once.

A training step on CPU allocates and frees thousands of tensors of one to a few MB (activations,
their gradients, peft's `base(x) + B(A(x))` temporaries). glibc serves blocks below its mmap
threshold from the heap and, after the first large free, raises that threshold up to 32 MiB
(M_MMAP_THRESHOLD_MAX on 64-bit), so freed blocks stay in the heap, fragmented, and the process's
resident set grows well past the live tensors: SmolLM2-135M LoRA at 2,048 tokens per step peaked at
10.7 GB, of which about 4 GB were freed blocks. Fixing the threshold at 1 MiB (`mallopt`, which
also turns the dynamic adjustment off) serves those blocks from their own mappings, which go back
to the operating system when freed. The price is a page fault per fresh page: steps are slower.
benchmarks/estimate_accuracy.py measures both sides; README.md quotes the figures.

The setting is process-wide and stays for the life of the process (a notebook kernel included).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
# 1 MiB: below a 135M model's hidden state at 512 tokens (576 x 512 x 4 B = 1.2 MB)
LOW_MEMORY_THRESHOLD = 1 << 20

_applied: int | None = None


def supported() -> bool:
    """True on Linux with glibc, where `mallopt` exists."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def return_freed_memory(threshold: int = LOW_MEMORY_THRESHOLD) -> bool:
    """Serve allocations of >= `threshold` bytes from their own mappings, returned when freed.

    Returns True when the setting is in effect (now or from an earlier call), False where the C
    library is not glibc (macOS, musl, Windows): there it is a no-op and the run proceeds as usual.
    """
    global _applied
    if _applied == threshold:
        return True
    if not supported():
        log.info("cpu_low_memory: not glibc (%s); nothing changed", platform.platform())
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if libc.mallopt(M_MMAP_THRESHOLD, threshold) != 1:
        log.warning("cpu_low_memory: mallopt(M_MMAP_THRESHOLD, %d) was refused", threshold)
        return False
    _applied = threshold
    log.info("cpu_low_memory: blocks >= %d bytes now go back to the OS when freed", threshold)
    return True


def apply_cpu_low_memory(enabled: bool, device: str) -> bool:
    """TrainConfig.cpu_low_memory for a run on `device`: set the threshold when asked and on a CPU.

    Returns whether the setting is in effect; asked for but unavailable is a warning, not an error.
    """
    if not enabled or not device.startswith("cpu"):
        return False
    if return_freed_memory():
        return True
    log.warning("cpu_low_memory needs Linux with glibc; running with the default allocator.")
    return False


def applied() -> int | None:
    """The threshold set by this process, or None when glibc's default (dynamic) is in place."""
    return _applied
