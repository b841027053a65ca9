"""The worker side of `rewards.pool.VerifierPool`: a loop that runs one check per message.

Protocol over a duplex pipe (parent -> worker, worker -> parent):
    ("ready",)                                   once, after imports and limits are in place
    (target, completion, gold, options, want_key) one check; target = "module:attr"
    ("key", str)  -> bool                        optional: answer key for the cache; parent replies
                                                 True (cached: drop this check) or False (go on)
    ("result", VerifyResult dict)                the verdict
    None                                         stop

Verifier exceptions never kill the worker: MemoryError -> score 0 `memory`; RecursionError (deeply
nested model text) -> score 0 `parse_error`; anything else -> score None `internal_error` with the
traceback tail in details (a verifier bug must be visible, not a silent 0).
"""

from __future__ import annotations

import ctypes
import importlib
import os
import resource
import signal
import sys
import traceback
from typing import Any, Callable

from rewards.base import Reason, VerifyResult

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when its parent (the fork server) exits, so no orphans remain.

    The fork server exits when no process holds its "alive" pipe. Every child inherits a copy (so the
    server outlives them), which would keep the server, and so a worker busy in C code, alive after
    the caller died. Workers never start processes through the server: drop the copy."""
    try:
        from multiprocessing import forkserver

        fd = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
        if fd is not None:
            os.close(fd)
            forkserver._forkserver._forkserver_alive_fd = None
    except (OSError, AttributeError):
        pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _limit_memory(memory_mb: int | None) -> None:
    if memory_mb:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = memory_mb * 2**20
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _resolve(target: str, cache: dict[str, tuple[Callable, Callable | None]]):
    if target not in cache:
        mod_name, attr = target.split(":")
        mod = importlib.import_module(mod_name)
        fn: Any = mod
        for part in attr.split("."):
            fn = getattr(fn, part)
        hook = getattr(fn, "extract", None) or getattr(mod, "extract", None)
        cache[target] = (fn, hook if callable(hook) else None)
    return cache[target]


def _answer_key(hook: Callable, completion: str, options: dict) -> str | None:
    try:
        return repr(hook(completion, **options))
    except (MemoryError, RecursionError):
        raise
    except Exception:  # a hook that cannot key this input: verify without the cache
        return None


def _verify(fn: Callable, completion: str, gold: Any, options: dict) -> dict:
    try:
        res = fn(completion, gold, **options)
        if not isinstance(res, VerifyResult):
            raise TypeError(f"verifier returned {type(res).__name__}, expected VerifyResult")
        if res.score is not None:
            res.score = float(res.score)
        return res.to_dict()
    except MemoryError:
        return VerifyResult(0.0, Reason.MEMORY, details={"error": "MemoryError"}).to_dict()
    except RecursionError:
        return VerifyResult(0.0, Reason.PARSE_ERROR, details={"error": "RecursionError (nesting too deep)"}).to_dict()
    except Exception as exc:
        tb = "".join(traceback.format_exception(exc)[-3:])
        return VerifyResult(None, Reason.INTERNAL_ERROR, details={"error": repr(exc)[:500], "traceback": tb[-2000:]}).to_dict()


def worker_main(conn, memory_mb: int | None, sys_path: list[str], plugins: list[str], preload: list[str]) -> None:
    """Entry point of a pool worker process (run by multiprocessing)."""
    os.setpgid(0, 0)  # own process group: the parent kills the worker and anything it started
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    for p in reversed(sys_path):
        if p not in sys.path:
            sys.path.insert(0, p)
    try:
        from rewards import registry

        registry.load_plugins(plugins)
        for mod in preload:
            importlib.import_module(mod)
        _limit_memory(memory_mb)
    except Exception as exc:
        conn.send(("error", repr(exc)))
        return
    conn.send(("ready",))
    resolved: dict[str, tuple[Callable, Callable | None]] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        target, completion, gold, options, want_key = msg
        try:
            fn, hook = _resolve(target, resolved)
        except Exception as exc:
            conn.send(("result", VerifyResult(None, Reason.INTERNAL_ERROR,
                                              details={"error": f"cannot load {target}: {exc!r}"}).to_dict()))
            continue
        if want_key and hook is not None:
            try:
                key = _answer_key(hook, completion, options)
            except (MemoryError, RecursionError):
                key = None
            if key is not None:
                conn.send(("key", key))
                if conn.recv():
                    continue
        conn.send(("result", _verify(fn, completion, gold, options)))
