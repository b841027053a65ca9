"""The process's memory allocator: tcmalloc where installed (`preload_malloc`), else glibc tuned (`tune_allocator`).

**tcmalloc.** `preload_malloc()`, the first call of every stage script, restarts the script once with
`LD_PRELOAD` set to tcmalloc (`libtcmalloc_minimal.so.4`, Debian's `libtcmalloc-minimal4`, which
`scripts/setup.sh` installs where it runs as root with apt-get), as PyTorch's CPU tuning guide, its
`torch.backends.xeon.run_cpu --enable-tcmalloc` launcher and vLLM's CPU backend do. Its size-class free
lists reuse a freed block for the next request of its class, where glibc's heap keeps freed blocks that
later, differently sized requests do not fit: over 12 steps of the embedded recipe the peak was 3591 MiB
under tcmalloc against 4007 MiB under glibc, 19.4 against 20.3 s/step (jemalloc: 3577 MiB, its speed not
measured on a quiet machine; benchmarks/bench_train_memory.py with `env:LD_PRELOAD=...`, 2026-12-07). `RLVR_MALLOC=system` keeps the C library's malloc; `RLVR_MALLOC_LIB` names another library.
Nothing happens where no library is found (a laptop without the package: glibc, tuned as below).

**glibc.** Keep freed memory in the process heap so large tensors are not page-faulted in again every step.

A training step allocates and frees the same few hundred large tensors (activations, logits blocks,
gradients) every time. glibc serves blocks above its mmap threshold (at most 32 MB) with a fresh `mmap`
and returns them on free, so every step the kernel zero-fills those pages again: on a 2-core CPU we
measured a quarter of the update's time as system time in page faults (10 M minor faults for one
GRPO head forward/backward), and step times that varied by 30%. `tune_allocator()` tells glibc to serve
everything from the heap (`M_MMAP_MAX = 0`) and to give memory back only when more than 1 GiB sits free at
its top (`M_TRIM_THRESHOLD`), the effect jemalloc/tcmalloc give PyTorch CPU users; the process's resident
size then stays at its peak instead of breathing. It is called by every stage script and by
`GRPOTrainer`; `RLVR_MALLOC_TUNING=0` turns it off; it does nothing where the C library is not glibc.

It also caps oneDNN's primitive cache at 16 entries (`ONEDNN_PRIMITIVE_CACHE_CAPACITY`, unless already set;
read by oneDNN at its first use, so it takes effect when called before the first bf16 matmul, as the stage
scripts do). The default 1024 keeps a compiled matmul for every (rows, width) shape met, and the update's shapes
change with every micro-batch's length: the trainer's live heap grew 37 MB a step with it, 17 MB with 16, at
the same step time (6-step runs of the embedded recipe, 2026-12-07). With 0 every matmul is compiled anew
(steps 1.5x slower).

    from pipeline.allocator import tune_allocator
    tune_allocator()   # True if applied
    release_free_memory()   # between training steps: free heap pages back to the kernel

The heap does not move blocks, and a step's tensors change size with the step's lengths, so over a run freed
blocks that no later request fits accumulate inside the heap (measured with `mallinfo2`: 1.3-2.0 GB of a 2.8 GB
heap free between steps of the embedded recipe) and stay resident, and the resident peak crept by a few MB a
step. `release_free_memory()` (glibc's `malloc_trim(0)` when more than 256 MB sit free; the trainer calls it every
`release_memory_every` steps, off by default) returns those pages; the next step faults back in what it touches.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc <malloc.h>
TCMALLOC = "libtcmalloc_minimal.so.4"
TCMALLOC_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")
_REEXEC_FLAG = "RLVR_MALLOC_PRELOADED"
_applied = False
_libc = None


class _MallInfo2(ctypes.Structure):  # glibc >= 2.33 <malloc.h>
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def tune_allocator(trim_threshold: int = 1 << 30) -> bool:
    """Apply the settings once per process; True when they are in effect."""
    global _applied
    if _applied:
        return True
    if os.environ.get("RLVR_MALLOC_TUNING", "1") == "0":
        return False
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only (musl, macOS and Windows have no such symbol)
    except (OSError, AttributeError):
        return False
    global _libc
    _libc = libc
    _applied = bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold))
    return _applied


def heap_free_bytes() -> int | None:
    """Bytes free inside the glibc heap (`mallinfo2().fordblks`); None without glibc >= 2.33 or tuning."""
    if _libc is None or not hasattr(_libc, "mallinfo2"):
        return None
    _libc.mallinfo2.restype = _MallInfo2
    return int(_libc.mallinfo2().fordblks)


def release_free_memory(min_free: int = 256 << 20) -> bool:
    """Give the heap's free pages back to the kernel (`malloc_trim(0)`) when more than `min_free` bytes sit free
    (always, where that cannot be read). Only where `tune_allocator` applied; True if it trimmed."""
    if not _applied or _libc is None:
        return False
    free = heap_free_bytes()
    if free is not None and free < min_free:
        return False
    _libc.malloc_trim(0)
    return True


def malloc_library(env: dict | None = None, dirs: tuple[str, ...] = TCMALLOC_DIRS) -> str | None:
    """The allocator library to preload: `RLVR_MALLOC_LIB` if set, else tcmalloc from `dirs` or the active
    environment's lib/ (conda, a venv); None when `RLVR_MALLOC=system` or nothing is found."""
    env = os.environ if env is None else env
    if env.get("RLVR_MALLOC", "tcmalloc") == "system":
        return None
    if env.get("RLVR_MALLOC_LIB"):
        return env["RLVR_MALLOC_LIB"]
    for d in (*dirs, str(Path(sys.prefix) / "lib"), *([env["CONDA_PREFIX"] + "/lib"] if env.get("CONDA_PREFIX") else [])):
        if (Path(d) / TCMALLOC).is_file():
            return str(Path(d) / TCMALLOC)
    return None


def preload_env(env: dict, lib: str | None) -> dict | None:
    """The environment to restart with so that `lib` is preloaded, or None when no restart is due (no library,
    already restarted once, or a malloc library already in LD_PRELOAD)."""
    preload = env.get("LD_PRELOAD", "")
    if lib is None or env.get(_REEXEC_FLAG) or any(k in preload for k in ("tcmalloc", "jemalloc", "mimalloc")):
        return None
    if not Path(lib).is_file():
        raise SystemExit(f"error: RLVR_MALLOC_LIB={lib}: no such file (unset it, or RLVR_MALLOC=system for glibc)")
    return {**env, "LD_PRELOAD": f"{lib}:{preload}" if preload else lib, _REEXEC_FLAG: "1"}


def preload_malloc(caller: str = "__main__") -> None:
    """Restart this script (same interpreter, same arguments) with tcmalloc preloaded; returns at once when no
    restart is due, or when `caller` (the script's `__name__`) is not "__main__" (a test importing the script).
    Call it first thing in a script, before heavy imports (the restart re-runs them)."""
    if caller != "__main__":
        return
    new_env = preload_env(dict(os.environ), malloc_library())
    if new_env is None or not getattr(sys, "orig_argv", None) or sys.platform != "linux":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], new_env)
