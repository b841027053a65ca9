"""Host probing and sandbox mode selection for untrusted code.

Inputs: the host (bwrap on PATH, whether it can actually build user/net/pid namespaces,
pyseccomp + libseccomp, root or not, setpriv, cgroup v2). Output: a `HostProbe` (facts) and
a `Mode` (what the runner will do), strongest first:

    bwrap+seccomp+uid   bubblewrap namespaces + seccomp + a dedicated non-root uid per slot (root host)
    bwrap+uid           the same without seccomp
    bwrap+seccomp       non-root caller: every slot shares the caller's (non-root) uid
    bwrap               the same without seccomp
    rlimits-only        no namespaces: UNSAFE, used only when the user opts in
                        (RLVR_ALLOW_UNSAFE_SANDBOX=1 or allow_unsafe=True)

The minimum for untrusted code is: separate network and PID namespaces (bwrap works), a
non-root uid, and rlimits. Below it, `select_mode` raises `SandboxRefused` unless opted in.
Cgroups are probed and recorded but not used (limits are rlimits + the wall deadline).

    python -m rewards.sandbox.probe      # prints the probe and the chosen mode
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess

PYTHON = "/usr/bin/python3"  # Debian's interpreter: reachable by the sandbox uid, read-only /usr
ALLOW_UNSAFE_ENV = "RLVR_ALLOW_UNSAFE_SANDBOX"
PROBE_UID = 60999  # uid used to probe that an unprivileged user can build the namespaces


class SandboxRefused(RuntimeError):
    """The host cannot reach the minimum isolation and the user did not opt in to run anyway."""


@dataclasses.dataclass(frozen=True)
class HostProbe:
    bwrap: str | None  # path of bwrap, None when missing
    bwrap_works: bool  # a namespaced (user+net+pid) bwrap run succeeded
    bwrap_error: str  # why not, when it did not
    seccomp: bool  # the BPF policy compiled
    seccomp_error: str
    is_root: bool  # root: can give each slot its own uid via setpriv
    setpriv: str | None
    cgroup_v2: bool  # recorded only
    python: str | None  # the in-sandbox interpreter when it exists


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    namespaces: bool  # bubblewrap user/net/pid/ipc/uts/mount namespaces
    seccomp: bool
    per_slot_uid: bool  # root host: slot i runs as uid base+i
    safe: bool  # meets the minimum for untrusted code


def bwrap_base_args() -> list[str]:
    """Namespaces, session and filesystem view shared by the probe and the runner."""
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--clearenv", "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--symlink", "usr/lib", "/lib"]
    if os.path.isdir("/usr/lib64"):
        args += ["--symlink", "usr/lib64", "/lib64"]
    return args + ["--proc", "/proc", "--dev", "/dev"]


def setpriv_args(uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all"]


def _try_bwrap(bwrap: str, is_root: bool) -> tuple[bool, str]:
    argv = ([*setpriv_args(PROBE_UID)] if is_root else []) + [bwrap, *bwrap_base_args(), "/usr/bin/true"]
    try:
        r = subprocess.run(argv, capture_output=True, timeout=20, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"{type(e).__name__}: {e}"
    if r.returncode != 0:
        return False, r.stderr.decode(errors="replace").strip()[:500] or f"exit {r.returncode}"
    return True, ""


@functools.lru_cache(maxsize=1)
def probe_host() -> HostProbe:
    from rewards.sandbox.seccomp_policy import SeccompUnavailable, compile_policy

    is_root = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    setpriv = shutil.which("setpriv")
    works, err = (False, "bwrap not installed (scripts/setup_sandbox.sh installs it)") if bwrap is None else (False, "")
    if bwrap is not None:
        if is_root and setpriv is None:
            works, err = False, "running as root but setpriv (util-linux) is missing"
        else:
            works, err = _try_bwrap(bwrap, is_root)
    try:
        compile_policy()
        sc, sc_err = True, ""
    except SeccompUnavailable as e:
        sc, sc_err = False, str(e)
    return HostProbe(bwrap=bwrap, bwrap_works=works, bwrap_error=err, seccomp=sc, seccomp_error=sc_err,
                     is_root=is_root, setpriv=setpriv,
                     cgroup_v2=os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
                     python=PYTHON if os.access(PYTHON, os.X_OK) else None)


def unsafe_allowed(allow_unsafe: bool | None = None) -> bool:
    if allow_unsafe is not None:
        return allow_unsafe
    return os.environ.get(ALLOW_UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes")


def select_mode(probe: HostProbe, allow_unsafe: bool | None = None) -> Mode:
    """The strongest mode this host supports; SandboxRefused below the minimum unless opted in."""
    if probe.python is None:
        raise SandboxRefused(f"{PYTHON} is missing: the sandbox runs Debian's system python (apt-get install python3)")
    if probe.bwrap_works:
        per_uid = probe.is_root
        name = "bwrap" + ("+seccomp" if probe.seccomp else "") + ("+uid" if per_uid else "")
        return Mode(name, namespaces=True, seccomp=probe.seccomp, per_slot_uid=per_uid, safe=True)
    if unsafe_allowed(allow_unsafe):
        return Mode("rlimits-only", namespaces=False, seccomp=False, per_slot_uid=probe.is_root and bool(probe.setpriv),
                    safe=False)
    raise SandboxRefused(
        "refusing to run untrusted code: no network/PID namespaces available "
        f"({probe.bwrap_error}). Install bubblewrap (scripts/setup_sandbox.sh) or opt in explicitly "
        f"with {ALLOW_UNSAFE_ENV}=1 (rlimits only: the code can reach the network and read host files).")


if __name__ == "__main__":
    p = probe_host()
    for f in dataclasses.fields(p):
        print(f"{f.name:14s} {getattr(p, f.name)!r}")
    try:
        print("mode          ", select_mode(p).name)
    except SandboxRefused as e:
        print("mode           REFUSED:", e)
