"""Seccomp policy for the code sandbox, compiled to classic BPF with pyseccomp (ctypes over libseccomp2).

The program is handed to bubblewrap with `--seccomp FD`, so bwrap installs it after it has
built the namespaces and just before it execs the sandboxed interpreter (no seccomp binding
is needed inside the sandbox, and Debian's /usr/bin/python3 can stay the runtime).

Policy (default allow, deny-list of kernel attack surface and escape routes):
- sockets: only AF_UNIX (multiprocessing needs socketpair); AF_INET/INET6/NETLINK/PACKET... -> EACCES;
- ptrace, process_vm_readv/writev, kcmp: no inspecting other processes -> EPERM;
- namespaces and mounts: unshare, setns, mount, umount2, pivot_root, chroot, new mount API -> EPERM;
  clone with any CLONE_NEW* flag -> EPERM; clone3 -> ENOSYS (EPERM would break glibc's fork,
  ENOSYS makes glibc fall back to clone, which the flag check covers);
- bpf, perf_event_open, keyctl/add_key/request_key, io_uring_*, userfaultfd, kexec, modules,
  reboot, swapon/off, syslog, acct, quotactl, *_by_handle_at, personality -> EPERM.
Other architectures' syscall ABIs (x32, i386) are killed by libseccomp's bad-arch default.

    python -m rewards.sandbox.seccomp_policy   # prints the BPF size, or why it cannot be built
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

CLONE_NEW_FLAGS = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00020000 | 0x00000080
# CLONE_NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWNS | NEWTIME
AF_UNIX = 1

DENY_EPERM = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "syslog", "acct", "quotactl",
    "open_by_handle_at", "name_to_handle_at", "personality", "lookup_dcookie",
)


class SeccompUnavailable(RuntimeError):
    """pyseccomp or libseccomp is missing, or the filter cannot be compiled."""


@functools.lru_cache(maxsize=1)
def compile_policy() -> bytes:
    """The policy as BPF bytes (cached); raises SeccompUnavailable with the cause."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as e:  # OSError: libseccomp.so.2 missing
        raise SeccompUnavailable(f"pyseccomp unavailable: {e}") from e
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENY_EPERM:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except (ValueError, RuntimeError, OSError):
            continue  # syscall unknown to this libseccomp/arch: nothing to deny
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    # any single namespace flag set is enough to deny: one rule per flag
    bit = 1
    while bit <= CLONE_NEW_FLAGS:
        if CLONE_NEW_FLAGS & bit:
            f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, bit, bit))
        bit <<= 1
    f.add_rule(sc.ERRNO(errno.EACCES), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    f.add_rule(sc.ERRNO(errno.EACCES), "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    with tempfile.TemporaryFile() as tmp:
        try:
            f.export_bpf(tmp)
        except (OSError, RuntimeError) as e:
            raise SeccompUnavailable(f"cannot export BPF: {e}") from e
        tmp.seek(0)
        data = tmp.read()
    if not data or len(data) % 8:
        raise SeccompUnavailable(f"exported BPF has a bad size {len(data)}")
    return data


def policy_fd() -> int:
    """A readable pipe fd holding the BPF program (for `bwrap --seccomp FD`); the caller closes it."""
    data = compile_policy()
    r, w = os.pipe()
    try:
        os.write(w, data)  # a few KiB: fits in the pipe buffer, never blocks
    finally:
        os.close(w)
    return r


if __name__ == "__main__":
    try:
        print(f"seccomp BPF: {len(compile_policy())} bytes ({len(compile_policy()) // 8} instructions)")
    except SeccompUnavailable as e:
        print(f"seccomp unavailable: {e}")
