"""Hard deadlines for verifiers: a pool of pre-forked worker processes, one check per worker at a time.

Inputs: `ScoreItem(verifier, completion, gold, options)` (verifier = a registry name).
Outputs: one `VerifyResult` per item, in order. A check past its deadline returns
`VerifyResult(0.0, "timeout")` (the model's answer was too expensive: score 0, not skip); a worker
that runs out of memory returns `VerifyResult(0.0, "memory")`.

Algorithm choices:
- Workers come from the 'forkserver' context: the fork server is a fresh interpreter (it never
  inherits the caller's torch/CUDA threads) with `rewards` and sympy preloaded, so a replacement
  worker starts in milliseconds (~40 ms measured). The caller's `__main__` is never re-imported in
  workers. Each worker caps its address space (RLIMIT_AS, soft limit), puts itself in its own process
  group, drops its copy of the fork server's "alive" pipe and asks the kernel (PR_SET_PDEATHSIG) to
  kill it when the fork server exits, so killing the caller leaves no worker behind, even one busy
  in C code.
- Each worker has one parent-side *slot thread* that takes items from a shared queue, sends them
  down the worker's pipe and waits with `poll(deadline)`. Past the deadline it SIGKILLs the worker's
  process group, starts a replacement and answers `timeout`. No `signal.alarm` anywhere, so the
  pool is callable from any thread, from training and evaluation at once.
- Cache keyed by (verifier, gold, options, answer key). When the verifier exposes an `extract`
  hook (an attribute of the verifier function, or a module-level `extract(completion, **options)`),
  the *worker* computes the key under the deadline and asks the parent whether the answer is
  cached (one extra pipe round trip), so model text is never parsed in the caller's process.
  Without a hook the key is a digest of the completion. Timeouts, memory kills and verifier crashes
  are never cached. Contract for hook authors: given the gold and options, the verdict must
  depend only on the hook's value (a hook may raise to fall back to the completion key).
- A background thread keeps `spares` idle workers ready, so a worker killed at its deadline is
  replaced at once (the kill is not waited for; the fork server reaps it).

Measured on the 2-core reference machine (benchmarks/bench_adversarial.py): 0.14 ms overhead per
trivial check; 100 checks hanging in C code with 4 workers and a 2 s deadline finish in 51.5 s
(bound: 2 x 100 / 4 + 20% = 60 s).

Example:
    with VerifierPool(workers=4, deadline_s=2.0) as pool:
        results = pool.score_batch([ScoreItem("math", "... \\\\boxed{4}", "4")])
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import hashlib
import io
import json
import logging
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from typing import Any, Sequence

from multiprocessing import context as mp_context, forkserver, popen_forkserver, reduction, spawn, util

from rewards import registry
from rewards.base import Reason, VerifyResult
from rewards.pool_worker import worker_main

log = logging.getLogger(__name__)

_PRELOAD = ["rewards.base", "rewards.registry", "rewards.pool_worker", "sympy"]
_CRASH_SIGNALS = {-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS}
_UNCACHED = {Reason.TIMEOUT, Reason.MEMORY, Reason.INTERNAL_ERROR}


@dataclasses.dataclass
class ScoreItem:
    verifier: str  # registry name, e.g. "math"
    completion: str
    gold: Any  # gold answer, or the whole test spec for code rows
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    deadline_s: float | None = None  # None: the pool's default


@dataclasses.dataclass
class _Task:
    target: str  # "module:attr" importable in the worker
    item: ScoreItem
    deadline_s: float
    key: str  # cache key prefix: verifier, gold, options
    future: cf.Future
    key_full: str | None = None  # prefix + the worker's extracted answer key


class _NoMainPopen(popen_forkserver.Popen):
    """multiprocessing's forkserver Popen, minus re-running the caller's `__main__` in each worker.

    A training script started as `python train.py` would otherwise be re-imported (torch and all) in
    every verifier worker. Verifier targets are importable modules, so workers never need `__main__`.
    (Mirrors CPython 3.10-3.13 `popen_forkserver.Popen._launch`.)
    """

    def _launch(self, process_obj):
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _NoMainPopen(process_obj)


def _target_of(name: str) -> str:
    fn = registry.get(name)
    mod, attr = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not mod or "<" in attr or mod == "__main__":
        raise ValueError(f"verifier {name!r} ({fn!r}) is not importable by worker processes; "
                         "define it at module level in an importable module")
    return f"{mod}:{attr}"


def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        s = p if isinstance(p, str) else json.dumps(p, sort_keys=True, default=repr)
        h.update(s.encode("utf-8", "surrogatepass"))
        h.update(b"\x00|")
    return h.hexdigest()


class _LRU:
    """A thread-safe LRU map from digest to VerifyResult dict (0 size = off)."""

    def __init__(self, size: int):
        self.size, self._d, self._lock = size, collections.OrderedDict(), threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> dict | None:
        with self._lock:
            val = self._d.get(key)
            if val is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return val

    def put(self, key: str, val: dict) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._d[key] = val
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)


class _Slot:
    """One worker process and the parent thread that feeds it (only that thread touches it)."""

    def __init__(self, pool: "VerifierPool", index: int):
        self.pool, self.index = pool, index
        self.proc = self.conn = None
        self.thread = threading.Thread(target=self._run, name=f"verifier-slot-{index}", daemon=True)

    def start_worker(self) -> None:
        """Take a ready spare worker if there is one (no wait), else start one now."""
        spare = self.pool._take_spare()
        self.proc, self.conn = spare if spare is not None else _spawn(self.pool, self.index)

    def stop_worker(self, kill: bool, wait: bool = True) -> None:
        if self.proc is None:
            return
        if not kill:
            try:
                self.conn.send(None)
                self.proc.join(1.0)
            except (OSError, EOFError, BrokenPipeError):
                pass
        _kill(self.proc, wait)
        self.conn.close()
        self.proc = self.conn = None

    def _run(self) -> None:
        while True:
            task = self.pool._tasks.get()
            if task is None:
                self.stop_worker(kill=False)
                return
            if not task.future.set_running_or_notify_cancel():
                continue
            try:
                if self.proc is None:
                    self.start_worker()
                res = self._check(task)
            except Exception as exc:  # infrastructure failure: skip the row, loudly
                log.exception("verifier pool slot %d failed", self.index)
                self.stop_worker(kill=True)
                res = VerifyResult(None, Reason.INTERNAL_ERROR, details={"error": f"pool: {exc!r}"})
            task.future.set_result(res)

    def _check(self, task: _Task) -> VerifyResult:
        it, cache = task.item, self.pool._cache
        msg = (task.target, it.completion, it.gold, it.options, cache.size > 0)
        try:
            self.conn.send(msg)
        except (BrokenPipeError, ConnectionResetError, EOFError):  # the idle worker died (OOM killer...)
            self.stop_worker(kill=True)
            self.start_worker()
            self.conn.send(msg)
        end = time.monotonic() + task.deadline_s
        while True:
            if not self.conn.poll(max(0.0, end - time.monotonic())):
                return self._replace(Reason.TIMEOUT, {"deadline_s": task.deadline_s})
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return self._died()
            if msg[0] == "key":  # the worker extracted the answer: is this verdict cached?
                task.key_full = _digest(task.key, "x", msg[1])
                hit = cache.get(task.key_full)
                self.conn.send(hit is not None)
                if hit is not None:
                    return VerifyResult.from_dict(hit)
                continue
            res = VerifyResult.from_dict(msg[1])
            if res.reason not in _UNCACHED:
                cache.put(_digest(task.key, "c", it.completion), msg[1])
                if task.key_full:
                    cache.put(task.key_full, msg[1])
            return res

    def _died(self) -> VerifyResult:
        """The worker vanished mid-check: killed by a signal (allocation failure under RLIMIT_AS aborts
        or segfaults in C code) counts as `memory`, score 0; any other exit is an infrastructure bug."""
        self.proc.join(2.0)
        code = self.proc.exitcode
        if code in _CRASH_SIGNALS:
            return self._replace(Reason.MEMORY, {"exitcode": code})
        return self._replace(Reason.INTERNAL_ERROR, {"exitcode": code}, score=None)

    def _replace(self, reason: str, details: dict, score: float | None = 0.0) -> VerifyResult:
        self.pool._stats[reason] += 1
        self.stop_worker(kill=True, wait=False)  # the spare takes over at once
        if not self.pool._closed:
            self.start_worker()
        return VerifyResult(score, reason, details=details)


def _spawn(p: "VerifierPool", index: int):
    """Start one worker process and wait for its "ready" message: (process, parent end of its pipe)."""
    parent_conn, child_conn = p._ctx.Pipe(duplex=True)
    proc = _WorkerProcess(target=worker_main, name=f"verifier-worker-{index}", daemon=True,
                          args=(child_conn, p.memory_mb, list(sys.path), p.plugins, p.preload))
    proc.start()
    child_conn.close()
    p._started_pids.append(proc.pid)
    if not parent_conn.poll(p.startup_timeout_s):
        _kill(proc)
        raise RuntimeError(f"verifier worker did not start within {p.startup_timeout_s} s")
    msg = parent_conn.recv()
    if msg[0] != "ready":
        _kill(proc)
        raise RuntimeError(f"verifier worker failed to start: {msg}")
    p._stats["workers_started"] += 1
    return proc, parent_conn


def _kill(proc, wait: bool = True) -> None:
    """SIGKILL the worker's process group (its children too); `wait`: until its exit is reported
    (the fork server reaps it either way; multiprocessing forgets it at the next start)."""
    if proc.exitcode is None and proc.pid:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if wait:
        proc.join(5.0)


class VerifierPool:
    """Pre-forked verifier workers with per-item deadlines, a memory cap and a shared cache."""

    def __init__(self, workers: int = 4, deadline_s: float = 2.0, memory_mb: int | None = 1024,
                 cache_size: int = 100_000, plugins: Sequence[str] = (), preload: Sequence[str] | None = None,
                 deadlines: dict[str, float] | None = None, startup_timeout_s: float = 60.0, spares: int = 1):
        """workers: processes; deadline_s: default wall-clock limit per check (from dispatch, not queueing);
        memory_mb: RLIMIT_AS per worker (None = no cap); cache_size: LRU entries (0 = off);
        plugins: modules the workers import so their `@register` runs; preload: verifier names whose
        modules every worker imports before taking work (default: the importable builtins);
        deadlines: per-verifier deadline overrides (e.g. {"code": 60.0}). Deadline of an item: its own
        `deadline_s`, else `deadlines[verifier]`, else the verifier function's `deadline_s` attribute
        (a verifier that runs its own timed subprocesses declares how long it needs), else `deadline_s`.
        spares: idle workers kept ready by a background thread, so a worker killed at its deadline is
        replaced without waiting for a start (0 = start replacements synchronously)."""
        if workers < 1 or deadline_s <= 0:
            raise ValueError("workers must be >= 1 and deadline_s > 0")
        self.workers, self.deadline_s, self.memory_mb = workers, deadline_s, memory_mb
        self.plugins, self.deadlines = list(plugins), dict(deadlines or {})
        self.startup_timeout_s = startup_timeout_s
        registry.load_plugins(self.plugins)
        self.preload = _preload_modules(preload)
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD + self.preload)  # no effect if the server already runs
        self._cache = _LRU(cache_size)
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._stats: collections.Counter = collections.Counter()
        self._closed = True  # until every worker is up
        self._started_pids: list[int] = []
        self._spares: queue.Queue = queue.Queue()
        self._spares_wanted = threading.Event()
        self._spare_target = max(0, spares)
        self._slots = [_Slot(self, i) for i in range(workers)]
        try:
            for s in self._slots:  # start all workers before serving, so the first deadlines are fair
                s.start_worker()
        except BaseException:
            for s in self._slots:
                s.stop_worker(kill=True)
            raise
        for s in self._slots:
            s.thread.start()
        self._closed = False
        self._spawner = threading.Thread(target=self._keep_spares, name="verifier-spares", daemon=True)
        if self._spare_target:
            self._spares_wanted.set()
            self._spawner.start()

    # -- public API ---------------------------------------------------------------------------
    def score(self, verifier: str, completion: str, gold: Any, options: dict | None = None,
              deadline_s: float | None = None) -> VerifyResult:
        return self.score_batch([ScoreItem(verifier, completion, gold, dict(options or {}), deadline_s)])[0]

    def score_batch(self, items: Sequence[ScoreItem]) -> list[VerifyResult]:
        """Score items in parallel across workers; results keep the input order."""
        futures = [self.submit(it) for it in items]
        return [f.result() for f in futures]

    def submit(self, item: ScoreItem) -> cf.Future:
        """Queue one item; the future resolves to its VerifyResult (never raises for model text)."""
        if self._closed:
            raise RuntimeError("VerifierPool is closed")
        fut: cf.Future = cf.Future()
        target = _target_of(item.verifier)  # unknown names raise KeyError here, in the caller
        key = _digest(item.verifier, item.gold, item.options)
        hit = self._cache.get(_digest(key, "c", item.completion))
        if hit is not None:
            fut.set_result(VerifyResult.from_dict(hit))
            return fut
        deadline = (item.deadline_s or self.deadlines.get(item.verifier)
                    or getattr(registry.get(item.verifier), "deadline_s", None) or self.deadline_s)
        self._tasks.put(_Task(target, item, deadline, key, fut))
        return fut

    # -- spare workers ----------------------------------------------------------------------
    def _take_spare(self):
        while True:
            try:
                proc, conn = self._spares.get_nowait()
            except queue.Empty:
                break
            self._spares_wanted.set()
            if proc.exitcode is None:
                return proc, conn
            conn.close()
        return None

    def _keep_spares(self) -> None:
        while not self._closed:
            self._spares_wanted.wait()
            self._spares_wanted.clear()
            while not self._closed and self._spares.qsize() < self._spare_target:
                try:
                    spare = _spawn(self, -1)
                except (RuntimeError, OSError) as exc:
                    log.warning("could not start a spare verifier worker: %r", exc)
                    break
                self._spares.put(spare)

    def _drop_spares(self) -> None:
        while True:
            try:
                proc, conn = self._spares.get_nowait()
            except queue.Empty:
                return
            _kill(proc)
            conn.close()

    def stats(self) -> dict[str, int]:
        """Counters: timeouts, memory kills, workers started, cache hits/misses."""
        return {**self._stats, "cache_hits": self._cache.hits, "cache_misses": self._cache.misses}

    def close(self) -> None:
        """Stop workers and slot threads; pending items resolve before the workers stop."""
        if self._closed:
            return
        self._closed = True
        for _ in self._slots:
            self._tasks.put(None)
        self._spares_wanted.set()
        for s in self._slots:
            s.thread.join(30.0)
            s.stop_worker(kill=True)
        if self._spawner.is_alive():
            self._spawner.join(self.startup_timeout_s)
        self._drop_spares()

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()


def _preload_modules(names: Sequence[str] | None) -> list[str]:
    """Modules of the given verifier names (default: every builtin that imports)."""
    mods = []
    for name in (registry.names() if names is None else names):
        try:
            mods.append(_target_of(name).split(":")[0])
        except (ImportError, AttributeError, ValueError) as exc:
            if names is not None:
                raise
            log.debug("not preloading verifier %s: %r", name, exc)
    return sorted(set(mods))
