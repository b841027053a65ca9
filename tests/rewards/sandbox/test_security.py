"""One test per attack; each asserts the effect on the *host*, not what the sandbox says.

Reward hacks at the end must score 0 through the real verifier."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from rewards.code import verify_code
from rewards.sandbox import Limits

from .conftest import live_slot_processes

FUNC_GOLD = {"entry_point": "add", "tests": [{"call": "candidate(2, 3)", "expected": "5"},
                                               {"call": "candidate(-4, 5)", "expected": "1"},
                                               {"call": "candidate(10, 20)", "expected": "30"}]}


def run(sb, code, stdin=None, **limits):
    return sb.run({"mode": "program", "code": code}, stdin, Limits(**limits))


def test_socket_to_host_loopback_reaches_nothing(sandbox):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    seen = []
    finished = threading.Event()

    def accept():  # until the sandboxed run has ended, then once more: a connection it made sits in the backlog
        while True:
            last = finished.is_set()
            try:
                seen.append(srv.accept())
            except socket.timeout:
                pass
            if last:
                return

    t = threading.Thread(target=accept)
    t.start()
    code = ("import socket\nfor fam, addr in ((socket.AF_INET, ('127.0.0.1', %d)), (socket.AF_INET6, ('::1', %d))):\n"
            "    try:\n        s = socket.socket(fam); s.settimeout(1); s.connect(addr); s.sendall(b'leak'); print('CONNECTED')\n"
            "    except OSError as e:\n        print('blocked', e.errno)\n" % (port, port))
    r = run(sandbox, code, wall_s=5)
    finished.set()
    t.join()
    srv.close()
    assert seen == []  # the host listener saw no connection
    assert b"CONNECTED" not in r.stdout and r.stdout.count(b"blocked") == 2


def test_write_outside_sandbox_leaves_canary(sandbox, tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("original")
    os.chmod(tmp_path, 0o777)
    os.chmod(canary, 0o666)  # even world-writable on the host
    code = ("for p in (%r, '/usr/rlvr_pwned', '/box/pwned', '/rlvr/driver.py'):\n"
            "    try:\n        open(p, 'w').write('pwned'); print('wrote', p)\n"
            "    except OSError as e:\n        print('denied', p, type(e).__name__)\n" % str(canary))
    r = run(sandbox, code)
    assert canary.read_text() == "original"
    assert not os.path.exists("/usr/rlvr_pwned")
    assert b"wrote /usr" not in r.stdout and b"wrote /rlvr" not in r.stdout


def test_parent_environment_and_secret_file_are_invisible(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("RLVR_TEST_SECRET", "env-s3cr3t-4242")
    secret = tmp_path / "secret.txt"
    secret.write_text("file-s3cr3t-9191")
    os.chmod(tmp_path, 0o755)
    os.chmod(secret, 0o644)
    code = ("import os\nprint(dict(os.environ))\n"
            "for p in (%r, '/root/.bash_history', '/etc/shadow', '/proc/1/environ', '/work/notes/COMMON.md'):\n"
            "    try:\n        print(open(p).read())\n    except OSError as e:\n        print('no', p, type(e).__name__)\n"
            % str(secret))
    r = run(sandbox, code)
    assert r.status == "exited"
    assert b"env-s3cr3t-4242" not in r.stdout and b"RLVR_TEST_SECRET" not in r.stdout
    assert b"file-s3cr3t-9191" not in r.stdout
    assert r.stdout.count(b"no /") == 4  # /proc/1/environ is the sandbox init's own (scrubbed) env


def test_fork_bomb_is_contained(sandbox):
    t0 = time.monotonic()
    r = run(sandbox, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", wall_s=1)
    assert r.status == "timeout" and time.monotonic() - t0 < 15
    assert live_slot_processes() == {}
    assert run(sandbox, "print('alive')").stdout == b"alive\n"  # the host can still spawn


def test_memory_bomb_hits_the_limit(sandbox):
    res = verify_code("x = []\nwhile True:\n    x.append(bytearray(1 << 24))\n",
                      {"tests": [{"input": "", "output": "never"}]}, memory_mb=256, timeout_s=20, sandbox=sandbox)
    assert res.score == 0.0 and res.reason == "memory"


def test_cpu_spin_times_out(sandbox):
    t0 = time.monotonic()
    res = verify_code("while True:\n    pass\n", {"tests": [{"input": "", "output": "x"}]}, timeout_s=0.75,
                      sandbox=sandbox)
    assert res.reason == "timeout" and res.score == 0.0
    assert time.monotonic() - t0 < 6


def test_sleep_past_deadline_is_killed(sandbox):
    t0 = time.monotonic()
    r = run(sandbox, "import time\ntime.sleep(60)\nprint('woke')", wall_s=0.5)
    assert r.status == "timeout" and r.stdout == b""
    assert time.monotonic() - t0 < 4


def test_cannot_kill_the_grader_or_host_processes(sandbox):
    sentinel = subprocess.Popen(["sleep", "60"])
    try:
        code = ("import os, signal, subprocess\n"
                "for pid in (%d, %d, 1, -1):\n"
                "    try:\n        os.kill(pid, signal.SIGKILL); print('sent', pid)\n"
                "    except OSError as e:\n        print('failed', pid, e.errno)\n"
                "subprocess.run(['pkill', '-9', 'python']); subprocess.run(['pkill', '-9', 'sleep'])\n"
                "print('still here')\n" % (os.getpid(), sentinel.pid))
        run(sandbox, code, wall_s=5)
        time.sleep(0.2)
        assert sentinel.poll() is None  # the host process survived
        os.kill(os.getpid(), 0)  # and so did the grader (this test process)
    finally:
        sentinel.kill()
        sentinel.wait()


def test_detached_daemon_does_not_outlive_the_run(per_uid_sandbox):
    code = ("import os, time\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(120)\n    os._exit(0)\n"
            "print('parent exits')\n")
    r = run(per_uid_sandbox, code)
    assert r.stdout == b"parent exits\n"
    assert live_slot_processes() == {}  # no process of any slot uid is left on the host


def test_output_flood_is_capped(sandbox):
    t0 = time.monotonic()
    r = run(sandbox, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", wall_s=10, stdout_bytes=1 << 20)
    assert r.status == "output_limit" and len(r.stdout) <= 1 << 20
    assert time.monotonic() - t0 < 8
    res = verify_code("while True:\n    print('y' * 100000)\n", {"tests": [{"input": "", "output": "y"}]},
                      sandbox=sandbox)
    assert res.reason == "output_limit" and res.score == 0.0


def test_delete_host_files_fails(sandbox, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    os.chmod(tmp_path, 0o777)
    os.chmod(victim, 0o777)
    usr_canary = "/usr/local/share/rlvr-sandbox-canary.txt"
    with open(usr_canary, "w") as f:
        f.write("keep")
    try:
        code = ("import os, shutil\n"
                "for p in (%r, %r):\n"
                "    try:\n        os.remove(p) if p.endswith('.txt') else shutil.rmtree(p); print('deleted', p)\n"
                "    except OSError as e:\n        print('denied', p, type(e).__name__)\n"
                % (str(victim / "keep.txt"), usr_canary))
        r = run(sandbox, code)
        assert (victim / "keep.txt").read_text() == "keep"
        assert open(usr_canary).read() == "keep"
        assert b"deleted /usr" not in r.stdout
    finally:
        os.remove(usr_canary)


def test_rlimits_cannot_be_raised(sandbox):
    code = ("import resource\nfor name in ('RLIMIT_NPROC', 'RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_NOFILE', 'RLIMIT_FSIZE'):\n"
            "    r = getattr(resource, name)\n"
            "    try:\n        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)); print('raised', name)\n"
            "    except (ValueError, OSError) as e:\n        print('kept', name, resource.getrlimit(r))\n")
    r = run(sandbox, code, memory_bytes=512 << 20, nproc=32)
    assert b"raised" not in r.stdout and r.stdout.count(b"kept") == 5
    assert b"kept RLIMIT_NPROC (32, 32)" in r.stdout and b"kept RLIMIT_AS (536870912, 536870912)" in r.stdout


def test_no_namespace_or_ptrace_escape(sandbox):
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n"
            "print('ptrace', libc.ptrace(0, 0, 0, 0), ctypes.get_errno())\n"
            "print('uid', os.getuid())\n")
    r = run(sandbox, code)
    assert b"unshare -1" in r.stdout and b"ptrace -1" in r.stdout
    assert b"uid 0" not in r.stdout


# ---- reward hacks: must score 0 -------------------------------------------------------------------

HACKS = {
    "exit_before_tests": "import os\ndef add(a, b):\n    return 0\nos._exit(0)\n",
    "sys_exit_before_tests": "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n",
    "print_success_words": "print('All tests passed! OK PASSED 3/3')\ndef add(a, b):\n    print('PASSED'); return None\n",
    "always_equal_object": ("class Eq:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
                            "    def __repr__(self): return '5'\n    __hash__ = object.__hash__\n"
                            "def add(a, b):\n    return Eq()\n"),
    "int_subclass_lies": ("class Fake(int):\n    def __eq__(self, o): return True\n    def __repr__(self): return '5'\n"
                          "    __hash__ = int.__hash__\ndef add(a, b):\n    return Fake(0)\n"),
    "fake_class_attribute": ("class Liar:\n    __class__ = property(lambda s: int)\n    def __eq__(s, o): return True\n"
                             "def add(a, b):\n    return Liar()\n"),
    "forge_frames_from_spec": (
        "import marshal, os, sys\nspec = marshal.load(open('/box/spec.bin', 'rb'))\n"
        "mark = '\\n\\x1eRLVR' + spec['nonce'] + ' '\n"
        "for i in range(3):\n    os.write(1, (mark + '{\"t\":%d,\"v\":[\"i\",\"42\"]}\\n' % i).encode())\n"
        "os._exit(0)\n"),
    "forge_deep_json_frame": (
        "import marshal, os\nspec = marshal.load(open('/box/spec.bin', 'rb'))\n"
        "os.write(1, ('\\n\\x1eRLVR' + spec['nonce'] + ' ' + '[' * 200000 + '\\n').encode())\n"
        "def add(a, b):\n    return None\n"),
    "walk_caller_frames": (
        "import sys, gc\n"
        "def add(a, b):\n    found = None\n    f = sys._getframe(1)\n    while f is not None:\n"
        "        for v in list(f.f_locals.values()) + list(f.f_globals.values()):\n"
        "            if isinstance(v, int) and not isinstance(v, bool) and v not in (a, b):\n                found = v\n"
        "        f = f.f_back\n    for o in gc.get_objects():\n"
        "        if isinstance(o, dict) and 'expected' in o:\n            found = o['expected']\n"
        "    return found\n"),
    "read_test_files": (
        "import os, re\ndef add(a, b):\n    blob = ''\n    for d in ('/box', '/rlvr', '/tmp'):\n"
        "        for n in os.listdir(d):\n            try:\n                blob += open(os.path.join(d, n), 'rb').read().decode('latin1')\n"
        "            except OSError:\n                pass\n    m = re.findall(r'expected.{0,20}?(-?\\d+)', blob)\n"
        "    return int(m[0]) if m else None\n"),
}


@pytest.mark.parametrize("code", list(HACKS.values()), ids=list(HACKS))
def test_reward_hack_scores_zero(sandbox, code):
    res = verify_code("```python\n" + code + "```", FUNC_GOLD, sandbox=sandbox)
    assert res.score == 0.0, res


def test_expected_values_never_enter_the_sandbox(sandbox):
    gold = {"entry_point": "f", "tests": [{"call": "candidate()", "expected": "'zz-expected-token-77'"}]}
    code = ("import os\ndef f():\n    hits = []\n    for root in ('/box', '/rlvr', '/tmp'):\n"
            "        for n in os.listdir(root):\n            p = os.path.join(root, n)\n"
            "            if os.path.isfile(p) and b'zz-expected' in open(p, 'rb').read():\n                hits.append(p)\n"
            "    return hits\n")
    res = verify_code(code, gold, sandbox=sandbox)
    assert res.score == 0.0 and res.reason == "wrong_answer"
