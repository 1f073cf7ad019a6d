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
LOW_MEMORY_THRESHOLD = 1 << 20  # 1 MiB: below the smallest activation of a 135M model at 512 tokens

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


def applied() -> int | None:
    """The threshold set by this process, or None when glibc's default (dynamic) is in place."""
    return _applied
