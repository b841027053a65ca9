"""VerifierPool: one sandbox-like property per test (deadline, C-level hang, memory, crash, bug, cache,
threads, order, shutdown). One pool per module: worker startup is the cost."""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time

import pytest

import tests.rewards.slow_verifiers  # noqa: F401  (registers test_* verifiers)
from rewards.base import Reason
from rewards.pool import ScoreItem, VerifierPool

WORKERS, DEADLINE = 2, 1.0


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=WORKERS, deadline_s=DEADLINE, memory_mb=768) as p:
        yield p


def test_results_keep_input_order(pool):
    items = [ScoreItem("test_echo", str(i % 7), "3") for i in range(60)]
    res = pool.score_batch(items)
    assert [r.score for r in res] == [1.0 if i % 7 == 3 else 0.0 for i in range(60)]
    assert [r.extracted for r in res] == [str(i % 7) for i in range(60)]


@pytest.mark.parametrize("verifier,options,reason,score", [
    ("test_sleep", {"s": 30}, Reason.TIMEOUT, 0.0),  # Python-level hang
    ("test_busy", {"digits_exp": 9}, Reason.TIMEOUT, 0.0),  # one C call no signal could interrupt
    ("test_alloc", {"mb": 4000}, Reason.MEMORY, 0.0),  # MemoryError under RLIMIT_AS
    ("test_crash", {}, Reason.MEMORY, 0.0),  # worker killed by a signal
    ("test_raise", {}, Reason.INTERNAL_ERROR, None),  # verifier bug: skip the row, not a silent 0
], ids=["sleep", "c-level-busy", "memory", "segfault", "verifier-bug"])
def test_failures_are_typed_and_bounded(pool, verifier, options, reason, score):
    t0 = time.monotonic()
    res = pool.score(verifier, "x", None, options, deadline_s=0.5)
    elapsed = time.monotonic() - t0
    assert (res.score, res.reason) == (score, reason)
    assert elapsed < 0.5 + 1.5, f"took {elapsed:.2f} s"
    # the pool still works afterwards (a replacement worker took over)
    assert pool.score("test_echo", "ok", "ok").score == 1.0


def test_timeout_replaces_worker_and_batch_stays_parallel(pool):
    before = pool.stats().get(Reason.TIMEOUT, 0)
    items = [ScoreItem("test_sleep", f"s{i}", None, {"s": 30}, deadline_s=0.4) for i in range(4)]
    items += [ScoreItem("test_echo", "a", "a")]
    t0 = time.monotonic()
    res = pool.score_batch(items)
    elapsed = time.monotonic() - t0
    assert [r.reason for r in res] == [Reason.TIMEOUT] * 4 + [Reason.OK]
    # 4 timeouts over 2 workers = 2 rounds of 0.4 s, plus respawns
    assert elapsed < 0.4 * 4 / WORKERS + 1.5, f"took {elapsed:.2f} s"
    assert pool.stats()[Reason.TIMEOUT] - before == 4


def test_memory_cap_allows_normal_work(pool):
    assert pool.score("test_alloc", "x", None, {"mb": 50}).reason == Reason.OK


def test_unknown_verifier_raises_in_caller(pool):
    with pytest.raises(KeyError, match="test_ech"):
        pool.score("test_ecko", "x", "x")


def test_cache_by_completion_and_by_extracted_answer(pool, tmp_path):
    calls = tmp_path / "calls"
    opts = {"calls_file": str(calls)}
    first = pool.score("test_echo", "42", "42", opts)
    same = pool.score("test_echo", "42", "42", opts)  # same completion: answered in the parent
    same_answer = pool.score("test_echo", "  42\n", "42", opts)  # same extracted key: answered via the hook
    other_gold = pool.score("test_echo", "42", "43", opts)
    assert [r.score for r in (first, same, same_answer, other_gold)] == [1.0, 1.0, 1.0, 0.0]
    assert calls.read_text() == "xx"  # only the first and the other-gold checks ran the verifier


def test_timeouts_are_not_cached(pool):
    item = ScoreItem("test_sleep", "same", None, {"s": 0.6}, deadline_s=0.3)
    assert pool.score_batch([item])[0].reason == Reason.TIMEOUT
    item.deadline_s = 5.0
    assert pool.score_batch([item])[0].reason == Reason.OK


def test_eight_threads_at_once(pool):
    barrier = threading.Barrier(8)

    def work(t: int) -> list[float | None]:
        barrier.wait()
        items = [ScoreItem("test_echo", f"{t}-{i}", f"{t}-{i}" if i % 2 else "no") for i in range(25)]
        return [r.score for r in pool.score_batch(items)]

    with cf.ThreadPoolExecutor(8) as ex:
        outs = list(ex.map(work, range(8)))
    assert outs == [[1.0 if i % 2 else 0.0 for i in range(25)]] * 8


def test_math_verifier_from_eight_threads(pool):
    pytest.importorskip("rewards.math", reason="the math verifier is not available")
    cases = [("\\boxed{\\frac{1}{2}}", "0.5", 1.0), ("The answer is \\boxed{3}", "4", 0.0),
             ("\\boxed{1,000}", "1000", 1.0), ("no answer here", "7", 0.0)]
    barrier = threading.Barrier(8)

    def work(t: int) -> list[float | None]:
        barrier.wait()
        items = [ScoreItem("math", f"{c} (thread {t})", g) for c, g, _ in cases]
        return [r.score for r in pool.score_batch(items)]

    with cf.ThreadPoolExecutor(8) as ex:
        outs = list(ex.map(work, range(8)))
    assert outs == [[s for _, _, s in cases]] * 8


def test_overhead_per_check_is_small(pool):
    items = [ScoreItem("test_echo", f"ovh{i}", "x") for i in range(300)]
    t0 = time.perf_counter()
    pool.score_batch(items)
    per_check_ms = (time.perf_counter() - t0) / len(items) * 1000
    assert per_check_ms < 5.0, f"{per_check_ms:.2f} ms per check"


def test_close_leaves_no_processes():
    p = VerifierPool(workers=2, deadline_s=0.5, spares=2)
    assert p.score("test_sleep", "x", None, {"s": 10}).reason == Reason.TIMEOUT
    time.sleep(0.3)  # let the spare thread start replacements
    p.close()
    assert len(p._started_pids) >= 3  # 2 workers + spares
    assert not [pid for pid in p._started_pids if _alive(pid)]
    with pytest.raises(RuntimeError, match="closed"):
        p.score("test_echo", "x", "x")


_ORPHAN_SCRIPT = """
import sys, time
import tests.rewards.slow_verifiers
from rewards.pool import ScoreItem, VerifierPool
p = VerifierPool(workers=2, deadline_s=60)
p.submit(ScoreItem("test_busy", "x", None, {"digits_exp": 9}))  # one worker busy in C code
print(" ".join(str(s.proc.pid) for s in p._slots), flush=True)
time.sleep(120)
"""


def test_no_orphans_when_the_caller_is_killed():
    import signal
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert len(pids) == 2
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in pids if _alive(p)]
    assert not alive, f"orphan workers {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for init to reap it is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
