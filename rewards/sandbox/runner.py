"""Isolated execution of untrusted Python: one run = one fresh sandbox, N concurrent slots.

Input: a spec dict for the in-sandbox harness (`rewards/sandbox/driver.py`: mode, code, calls...),
optional stdin bytes, and `Limits`. Output: a `RunResult` with raw stdout/stderr (capped) and a
status; judging is the caller's job (`rewards.code`), outside the sandbox.

Per run (mode bwrap+seccomp+uid, the strongest; see `probe.py` for the others):
  setpriv --reuid/--regid <slot uid> --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all
        (a non-root uid per slot, leased across processes with a flock, so RLIMIT_NPROC is enforced)
  bwrap --unshare-all --unshare-user --disable-userns --die-with-parent --new-session --clearenv --as-pid-1
        read-only /usr (+ /bin /lib links), private /proc and /dev, size-capped tmpfs /tmp and /dev/shm,
        the run's spec bound read-only at /box, the harness at /rlvr, --seccomp <policy fd>
  /usr/bin/python3 -S -B /rlvr/driver.py   (lowers its rlimits before the untrusted code runs:
        address space, CPU, processes, file size, open files, no core)
The parent enforces the wall deadline (SIGKILL to the bwrap process group; --die-with-parent and the
PID namespace take the whole tree down), caps stdout/stderr while reading, then sweeps any process
still owned by the slot uid. Results are deterministic for deterministic programs: PYTHONHASHSEED=0,
fixed environment, each slot reused only after its previous run is gone.

    python -m rewards.sandbox.runner 'print(sum(range(10)))'   # run one program, print the result
"""

from __future__ import annotations

import atexit
import dataclasses
import fcntl
import logging
import marshal
import os
import queue
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rewards.sandbox.probe import (PYTHON, Mode, SandboxRefused, bwrap_base_args, probe_host, select_mode,
                                   setpriv_args)

DRIVER = Path(__file__).with_name("driver.py")
UID_BASE = 61000  # slot i runs as uid/gid UID_BASE + i (root hosts only)
UID_RANGE = 64  # uids UID_BASE .. UID_BASE+63 are leased, one run at a time each, across processes
LOCK_DIR = "/tmp/rlvr-sandbox-locks"
SLOTS_ENV = "RLVR_SANDBOX_SLOTS"
log = logging.getLogger(__name__)
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
               "MALLOC_ARENA_MAX": "2"}


@dataclasses.dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0  # wall-clock deadline for the whole run, enforced by the parent
    cpu_s: int | None = None  # RLIMIT_CPU per process; default ceil(wall_s)
    memory_bytes: int = 1 << 30  # RLIMIT_AS per process
    nproc: int = 64  # RLIMIT_NPROC for the slot uid (threads count)
    fsize_bytes: int = 16 << 20  # RLIMIT_FSIZE: largest file the code may write
    nofile: int = 256  # RLIMIT_NOFILE
    tmpfs_bytes: int = 64 << 20  # size of the private /tmp (and /dev/shm)
    stdout_bytes: int = 32 << 20  # output cap; exceeding it kills the run (status output_limit)
    stderr_bytes: int = 1 << 20

    def rlimits(self) -> dict[str, int]:
        cpu = self.cpu_s if self.cpu_s is not None else max(1, int(self.wall_s + 0.999))
        return {"as_bytes": self.memory_bytes, "nproc": self.nproc, "fsize_bytes": self.fsize_bytes,
                "nofile": self.nofile, "core": 0, "cpu_s": cpu}


@dataclasses.dataclass
class RunResult:
    status: str  # "exited" | "timeout" | "output_limit" | "sandbox_error"
    returncode: int | None
    stdout: bytes
    stderr: bytes
    wall_s: float
    mode: str
    nonce: str = ""
    error: str = ""  # for sandbox_error: what failed
    leftover_processes: int = 0  # processes of the slot uid killed by the post-run sweep


class Sandbox:
    """A pool of isolation slots. `run` uses one free slot; `run_many` runs jobs across all slots."""

    def __init__(self, slots: int | None = None, allow_unsafe: bool | None = None, uid_base: int = UID_BASE):
        self.probe = probe_host()
        self.mode: Mode = select_mode(self.probe, allow_unsafe)
        n = slots or int(os.environ.get(SLOTS_ENV, 0)) or max(1, min(8, os.cpu_count() or 1))
        self.slots = n
        self.uid_base = uid_base
        (log.info if self.mode.safe else log.warning)(
            "code sandbox mode: %s (%d slots)%s", self.mode.name, n,
            "" if self.mode.safe else " -- UNSAFE: no namespaces, opted in explicitly")
        self._free: queue.Queue[int] = queue.Queue()
        for _ in range(n):
            self._free.put(0)
        self._root = tempfile.mkdtemp(prefix="rlvr-sandbox-")
        os.chmod(self._root, 0o711)  # slot uids may traverse, not list
        self._runtime = os.path.join(self._root, "rlvr")
        os.mkdir(self._runtime)
        shutil.copy(DRIVER, os.path.join(self._runtime, "driver.py"))
        os.chmod(self._runtime, 0o755)
        os.chmod(os.path.join(self._runtime, "driver.py"), 0o644)
        atexit.register(self.close)

    def uid(self, slot: int) -> int | None:
        return self.uid_base + slot if self.mode.per_slot_uid else None

    def run(self, spec: dict, stdin: bytes | None = None, limits: Limits = Limits()) -> RunResult:
        self._free.get()  # bounds this process's concurrency
        try:
            with _UidLease(self.uid_base, UID_RANGE if self.mode.per_slot_uid else 0) as slot:
                return self._run_in_slot(slot, spec, stdin, limits)
        finally:
            self._free.put(0)

    def run_many(self, jobs: list[tuple[dict, bytes | None, Limits]]) -> list[RunResult]:
        """Results in job order; at most `slots` runs at a time."""
        if len(jobs) <= 1:
            return [self.run(*j) for j in jobs]
        with ThreadPoolExecutor(max_workers=min(self.slots, len(jobs))) as ex:
            return list(ex.map(lambda j: self.run(*j), jobs))

    def _argv(self, slot: int, box: str, limits: Limits, seccomp_fd: int | None) -> list[str]:
        uid = self.uid(slot)
        # setpriv, not Popen(user=...): a uid change in the forked child disables vfork, and forking a
        # large parent (a trainer with torch loaded) then costs ~14 ms per run instead of ~1.5 ms.
        interp = [PYTHON, "-S", "-B"]
        prefix = setpriv_args(uid) if uid is not None else []
        if not self.mode.namespaces:
            return prefix + interp + [os.path.join(self._runtime, "driver.py"), os.path.join(box, "spec.bin")]
        # --as-pid-1: no bwrap init in the namespace; the harness is PID 1, so its exit tears the whole
        # namespace down, and no init process is left behind as a zombie for the host's init to reap.
        args = [self.probe.bwrap, *bwrap_base_args(), "--as-pid-1"]
        for k, v in SANDBOX_ENV.items():
            args += ["--setenv", k, v]
        args += ["--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
                 "--size", str(limits.tmpfs_bytes), "--tmpfs", "/dev/shm",
                 "--ro-bind", box, "/box", "--ro-bind", self._runtime, "/rlvr", "--chdir", "/tmp"]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        return prefix + args + interp + ["/rlvr/driver.py", "/box/spec.bin"]

    def _run_in_slot(self, slot: int, spec: dict, stdin: bytes | None, limits: Limits) -> RunResult:
        nonce = secrets.token_hex(8)
        spec = {**spec, "nonce": nonce, "limits": limits.rlimits()}
        box = tempfile.mkdtemp(prefix="box-", dir=self._root)
        seccomp_fd = None
        t0 = time.monotonic()
        try:
            os.chmod(box, 0o755)
            with open(os.path.join(box, "spec.bin"), "wb") as f:
                marshal.dump(spec, f)
            os.chmod(os.path.join(box, "spec.bin"), 0o644)
            stdin_f = None
            if stdin:
                stdin_path = os.path.join(box, "stdin")
                with open(stdin_path, "wb") as f:
                    f.write(stdin)
                stdin_f = open(stdin_path, "rb")
            if self.mode.seccomp:
                from rewards.sandbox.seccomp_policy import policy_fd
                seccomp_fd = policy_fd()
            argv = self._argv(slot, box, limits, seccomp_fd)
            try:
                proc = subprocess.Popen(argv, stdin=stdin_f or subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
                                        start_new_session=True, cwd=box, env=dict(SANDBOX_ENV))
            except OSError as e:
                return RunResult("sandbox_error", None, b"", b"", 0.0, self.mode.name, nonce, f"spawn failed: {e}")
            finally:
                if stdin_f:
                    stdin_f.close()
                if seccomp_fd is not None:
                    os.close(seccomp_fd)
            status, out, err = _collect(proc, t0 + limits.wall_s, limits)
            leftovers = self._sweep(slot)
            return RunResult(status, proc.returncode, out, err, time.monotonic() - t0, self.mode.name, nonce,
                             leftover_processes=leftovers)
        finally:
            shutil.rmtree(box, ignore_errors=True)

    def _sweep(self, slot: int) -> int:
        """SIGKILL every process still owned by the slot uid (a daemon must not outlive its run)."""
        uid = self.uid(slot)
        if uid is None:
            return 0
        killed = 0
        give_up = time.monotonic() + 5.0  # dying processes vanish within ms; bounded anyway
        while time.monotonic() < give_up:
            pids = uid_processes(uid)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        return killed

    def close(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)


class _UidLease:
    """An exclusive slot uid across *processes* (verifier pool workers each own a Sandbox): a
    non-blocking flock on /tmp/rlvr-sandbox-locks/<uid>; yields the slot index (uid - base)."""

    def __init__(self, base: int, n: int):
        self.base, self.n, self.fd = base, n, None

    def __enter__(self) -> int:
        if self.n == 0:
            return 0
        os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
        start = (os.getpid() * 7) % self.n  # spread processes over the range
        while True:
            for k in range(self.n):
                i = (start + k) % self.n
                fd = os.open(os.path.join(LOCK_DIR, str(self.base + i)), os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                self.fd = fd
                return i
            time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the flock


def uid_processes(uid: int) -> list[int]:
    """Live (non-zombie) pids owned by `uid`.

    Zombies are skipped: bwrap's namespace init is reparented to the host's init when the run
    ends and stays a zombie until that init reaps it; it runs no code.
    """
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
                with open(f"/proc/{name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                pids.append(int(name))
    return pids


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.kill()


def _collect(proc: subprocess.Popen, deadline: float, limits: Limits) -> tuple[str, bytes, bytes]:
    """Read stdout/stderr up to their caps until EOF or the deadline; kill the tree on breach."""
    caps = {proc.stdout: limits.stdout_bytes, proc.stderr: limits.stderr_bytes}
    bufs: dict = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    status = "exited"
    with selectors.DefaultSelector() as sel:
        for f in bufs:
            sel.register(f, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                status = "timeout"
                break
            for key, _ in sel.select(timeout=min(left, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = bufs[key.fileobj]
                buf += chunk
                if len(buf) > caps[key.fileobj]:
                    del buf[caps[key.fileobj]:]
                    status = "output_limit"
            if status != "exited":
                break
    if status != "exited":
        _kill_tree(proc)
    try:
        _wait_exit(proc, max(0.5, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        status = "timeout"
        _kill_tree(proc)
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return status, bytes(bufs[proc.stdout]), bytes(bufs[proc.stderr])


def _wait_exit(proc: subprocess.Popen, timeout: float) -> None:
    """Wait for exit, waking the moment it happens (a pidfd; Popen.wait(timeout) polls with sleeps
    growing to 50 ms, which costs a few ms on every short run)."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # old kernel / Python: polling fallback
        proc.wait(timeout=timeout)
        return
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            if not sel.select(timeout=timeout):
                raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(fd)
    proc.wait()


_DEFAULT: Sandbox | None = None


def default_sandbox() -> Sandbox:
    """The process-wide sandbox (created on first use: probes the host, may raise SandboxRefused)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Sandbox()
    return _DEFAULT


def sandbox_mode() -> str:
    """Name of the mode untrusted code runs under here (for logs and manifests), e.g.
    "bwrap+seccomp+uid"; "refused" when the host is below the minimum and nobody opted in."""
    try:
        return default_sandbox().mode.name
    except SandboxRefused:
        return "refused"


if __name__ == "__main__":
    r = default_sandbox().run({"mode": "program", "code": sys.argv[1] if len(sys.argv) > 1 else "print('hi')"})
    print(f"mode={r.mode} status={r.status} rc={r.returncode} wall={r.wall_s * 1000:.1f} ms")
    print("stdout:", r.stdout.decode(errors="replace")[-2000:])
    print("stderr:", r.stderr.decode(errors="replace")[-2000:])
