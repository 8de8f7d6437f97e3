"""Freed host tensors go back to the OS during streamed passes, so the process's RSS follows what it holds.

glibc serves allocations above its mmap threshold with mmap and returns them on free, but raises that threshold to
the size of each large block freed (up to 32 MiB on 64-bit). After the first layer of a streamed pass is freed,
later layers' tensors of a few MiB come from the heap, and the heap keeps them when they are freed: a pass that holds
one layer at a time measured 47-216 MiB of peak RSS growth from run to run on an 8-layer, 36 MiB-per-layer model
(tests/cpu/test_streamed_merge.py), 47 MiB every run with the threshold fixed at 64 KiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's malloc.h; fixing it also stops the dynamic raise
THRESHOLD_BYTES = 64 * 1024


def return_large_frees_to_the_os() -> bool:
    """Fix glibc's mmap threshold for this process; False where the C library is not glibc (nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
