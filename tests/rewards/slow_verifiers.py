"""Small verifiers for pool tests: importable by worker processes (they run at module level).

Registered under `test_*` names: echo (exact match; `calls_file` option appends one byte per
real call, for cache tests), sleep (options["s"] seconds), alloc
(options["mb"] megabytes), crash (SIGSEGV), raise (a verifier bug), busy (C-level big-int work
that no Python-level timeout could interrupt).
"""

from __future__ import annotations

import os
import signal
import time

from rewards.base import Reason, VerifyResult
from rewards.registry import register


@register("test_echo")
def verify_echo(completion: str, gold, **options) -> VerifyResult:
    path = options.get("calls_file")
    if path:  # count real verifier calls (for cache tests)
        with open(path, "a") as f:
            f.write("x")
    ok = completion.strip() == str(gold)
    return VerifyResult(1.0 if ok else 0.0, Reason.OK if ok else Reason.WRONG, extracted=completion.strip())


@register("test_sleep")
def verify_sleep(completion: str, gold, **options) -> VerifyResult:
    time.sleep(float(options.get("s", 0.0)))
    return VerifyResult(1.0, Reason.OK, extracted=completion)


@register("test_alloc")
def verify_alloc(completion: str, gold, **options) -> VerifyResult:
    blob = bytearray(int(options.get("mb", 1)) * 2**20)
    return VerifyResult(1.0, Reason.OK, extracted=str(len(blob)))


@register("test_crash")
def verify_crash(completion: str, gold, **options) -> VerifyResult:
    os.kill(os.getpid(), signal.SIGSEGV)
    return VerifyResult(1.0, Reason.OK)


@register("test_raise")
def verify_raise(completion: str, gold, **options) -> VerifyResult:
    raise ValueError("verifier bug")


@register("test_busy")
def verify_busy(completion: str, gold, **options) -> VerifyResult:
    n = 10 ** (10 ** int(options.get("digits_exp", 8)))  # one C call, minutes long
    return VerifyResult(1.0 if n else 0.0, Reason.OK)


def extract(completion: str, **options) -> str:
    """Cache hook: the verdict of verify_echo depends only on the stripped completion."""
    return completion.strip()
