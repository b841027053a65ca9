"""pipeline/allocator.py: glibc settings applied once, off with RLVR_MALLOC_TUNING=0; oneDNN's primitive cache
capped at 16 unless the user set a capacity; release_free_memory gives freed heap pages back (resident size
falls) and does nothing below its threshold. Each case in a fresh interpreter (the settings are per process)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = ("import os, sys; sys.path.insert(0, sys.argv[1]); from pipeline.allocator import tune_allocator; "
         "print(tune_allocator(), os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY'))")


def _run(**env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "RLVR_MALLOC_TUNING")}
    out = subprocess.run([sys.executable, "-c", PROBE, REPO], env={**base, **env}, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("env, expected", [
    ({}, "16"),
    ({"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "256"}, "256"),
    ({"RLVR_MALLOC_TUNING": "0"}, "None"),
], ids=["default_cap", "user_value_kept", "tuning_off"])
def test_onednn_cache_capacity(env, expected):
    assert _run(**env).split()[1] == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings: Linux only")
def test_glibc_settings_applied_once_and_can_be_turned_off():
    assert _run().split()[0] == "True"
    assert _run(RLVR_MALLOC_TUNING="0").split()[0] == "False"


RELEASE = """
import sys; sys.path.insert(0, sys.argv[1])
from pipeline.allocator import heap_free_bytes, release_free_memory, tune_allocator
from pipeline.grpo.metrics import memory_mib
assert tune_allocator()
keep, blocks = [], [bytearray(8 << 20) for _ in range(64)]   # 512 MB in the heap (mmap is off), touched
for i, b in enumerate(blocks):
    (keep if i % 16 == 15 else []).append(b)   # a few live blocks pin the heap above the freed ones
del blocks
free = heap_free_bytes()
small = release_free_memory(min_free=free + (1 << 30))   # below the threshold: nothing done
before = memory_mib()["mem/rss_mib"]
done = release_free_memory()
after = memory_mib()["mem/rss_mib"]
print(free >> 20, small, done, round(before - after))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc heap: Linux only")
def test_release_free_memory_gives_freed_heap_pages_back():
    out = subprocess.run([sys.executable, "-c", RELEASE, REPO], capture_output=True, text=True, check=True)
    free_mib, small, done, dropped = out.stdout.split()
    if free_mib == "None":
        pytest.skip("glibc without mallinfo2 (< 2.33)")
    assert int(free_mib) >= 400 and small == "False" and done == "True"
    assert int(dropped) >= 400, out.stdout  # MiB of resident memory returned
