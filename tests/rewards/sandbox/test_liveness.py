"""Ordinary programs must keep working inside the sandbox (the limits are not a denial of service)."""

from __future__ import annotations

import pytest

from rewards.sandbox import Limits

CASES = {
    "threads": ("import threading\nout = [0] * 8\n"
                "def work(i):\n    out[i] = sum(range(i * 1000))\n"
                "ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n"
                "[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sum(out))\n",
                str(sum(sum(range(i * 1000)) for i in range(8)))),
    "subprocess_echo": "import subprocess\nprint(subprocess.run(['echo', 'hi from echo'], capture_output=True, text=True).stdout.strip())\n",
    "multiprocessing_4_workers": ("import multiprocessing as mp\n"
                                  "def sq(x):\n    return x * x\n"
                                  "if __name__ == '__main__':\n    with mp.Pool(4) as p:\n        print(sum(p.map(sq, range(1000))))\n",
                                  str(sum(x * x for x in range(1000)))),
    "deep_recursion": ("import sys\nsys.setrecursionlimit(200000)\n"
                       "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\nprint(depth(50000))\n", "50000"),
    "tmp_file_io": "open('/tmp/x.txt', 'w').write('abc' * 1000)\nprint(len(open('/tmp/x.txt').read()))\n",
    "stdlib_imports": "import json, re, collections, itertools, math, fractions, decimal, heapq, bisect, functools\nprint('ok')\n",
}
EXPECTED = {"subprocess_echo": "hi from echo", "tmp_file_io": "3000", "stdlib_imports": "ok"}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_program_works(sandbox, name):
    case = CASES[name]
    code, want = (case if isinstance(case, tuple) else (case, EXPECTED[name]))
    r = sandbox.run({"mode": "program", "code": code}, None, Limits(wall_s=20))
    assert r.status == "exited" and r.returncode == 0, r.stderr[-800:]
    assert r.stdout.decode().strip() == want


def test_10mb_stdin_and_stdout(sandbox):
    data = (b"0123456789abcdef" * 64 + b"\n") * 10_000  # ~10.25 MB
    r = sandbox.run({"mode": "program", "code": "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())\n"},
                    data, Limits(wall_s=30))
    assert r.status == "exited" and r.returncode == 0
    assert len(r.stdout) == len(data) and r.stdout == data
