"""One verifier worker process and the parent-side thread that feeds it: the machinery of `rewards.pool`.

Inputs: `Task`s from the pool's shared queue (a "module:attr" target importable in the worker, the
item, its deadline, its cache-key prefix, its future), and the pool's settings (memory cap, plugins,
preloaded modules, start timeout).
Outputs: each task's future resolves to a `VerifyResult`: the worker's verdict, a cached one,
`timeout` or `memory` (score 0: the model's answer was too expensive), or `internal_error` (score
None, skipped) when the worker died some other way. Kills and starts are counted in the pool's stats.

Choices:
- Workers come from the pool's 'forkserver' context: the fork server is a fresh interpreter (it
  never inherits the caller's torch/CUDA threads) with `rewards` and sympy preloaded, so a
  replacement worker starts in milliseconds (~40 ms measured). The caller's `__main__` is never
  re-imported in workers (`_NoMainPopen`). Each worker (rewards/pool_worker.py) caps its address
  space (RLIMIT_AS, soft limit), puts itself in its own process group, drops its copy of the fork
  server's "alive" pipe and asks the kernel (PR_SET_PDEATHSIG) to kill it when the fork server
  exits, so killing the caller leaves no worker behind, even one busy in C code.
- Each worker has one parent-side slot thread that takes items from the shared queue, sends them
  down the worker's pipe and waits with `poll(deadline)`. Past the deadline it SIGKILLs the
  worker's process group, takes a ready spare (or starts a worker) and answers `timeout`. No
  `signal.alarm` anywhere, so the pool is callable from any thread, from training and evaluation at
  once. The kill is not waited for; the fork server reaps it.
- A worker killed by a signal mid-check (an allocation failure under RLIMIT_AS aborts or segfaults
  in C code) counts as `memory`; any other exit is an infrastructure bug and is skipped, loudly.
- The cache (rewards/pool_cache.py) is consulted when the worker reports the answer key it
  extracted, and filled with every verdict that is not a timeout, memory kill or error.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import io
import logging
import os
import signal
import sys
import threading
import time
from multiprocessing import context as mp_context, forkserver, popen_forkserver, reduction, spawn, util
from typing import TYPE_CHECKING

from rewards.base import Reason, VerifyResult
from rewards.pool_cache import UNCACHED, digest
from rewards.pool_worker import worker_main

if TYPE_CHECKING:
    from rewards.pool import ScoreItem, VerifierPool

log = logging.getLogger(__name__)

_CRASH_SIGNALS = {-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS}


@dataclasses.dataclass
class Task:
    """One queued check, as the pool hands it to a slot."""

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


class Slot:
    """One worker process and the parent thread that feeds it (only that thread touches it)."""

    def __init__(self, pool: "VerifierPool", index: int):
        self.pool, self.index = pool, index
        self.proc = self.conn = None
        self.thread = threading.Thread(target=self._run, name=f"verifier-slot-{index}", daemon=True)

    def start_worker(self) -> None:
        """Take a ready spare worker if there is one (no wait), else start one now."""
        spare = self.pool._take_spare()
        self.proc, self.conn = spare if spare is not None else spawn_worker(self.pool, self.index)

    def stop_worker(self, kill: bool, wait: bool = True) -> None:
        if self.proc is None:
            return
        if not kill:
            try:
                self.conn.send(None)
                self.proc.join(1.0)
            except (OSError, EOFError, BrokenPipeError):
                pass
        kill_worker(self.proc, wait)
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

    def _check(self, task: Task) -> VerifyResult:
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
                task.key_full = digest(task.key, "x", msg[1])
                hit = cache.get(task.key_full)
                self.conn.send(hit is not None)
                if hit is not None:
                    return VerifyResult.from_dict(hit)
                continue
            res = VerifyResult.from_dict(msg[1])
            if res.reason not in UNCACHED:
                cache.put(digest(task.key, "c", it.completion), msg[1])
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


def spawn_worker(p: "VerifierPool", index: int):
    """Start one worker process and wait for its "ready" message: (process, parent end of its pipe)."""
    parent_conn, child_conn = p._ctx.Pipe(duplex=True)
    proc = _WorkerProcess(target=worker_main, name=f"verifier-worker-{index}", daemon=True,
                          args=(child_conn, p.memory_mb, list(sys.path), p.plugins, p.preload))
    proc.start()
    child_conn.close()
    p._started_pids.append(proc.pid)
    if not parent_conn.poll(p.startup_timeout_s):
        kill_worker(proc)
        raise RuntimeError(f"verifier worker did not start within {p.startup_timeout_s} s")
    msg = parent_conn.recv()
    if msg[0] != "ready":
        kill_worker(proc)
        raise RuntimeError(f"verifier worker failed to start: {msg}")
    p._stats["workers_started"] += 1
    return proc, parent_conn


def kill_worker(proc, wait: bool = True) -> None:
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
