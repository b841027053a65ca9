"""Mode selection: the strongest available mode, refusal below the minimum, explicit opt-in."""

from __future__ import annotations

import dataclasses

import pytest

from rewards.sandbox.probe import HostProbe, SandboxRefused, probe_host, select_mode

BASE = HostProbe(bwrap="/usr/bin/bwrap", bwrap_works=True, bwrap_error="", seccomp=True, seccomp_error="",
                 is_root=True, setpriv="/usr/bin/setpriv", cgroup_v2=False, python="/usr/bin/python3")

CASES = [
    ("root_all", {}, None, "bwrap+seccomp+uid"),
    ("root_no_seccomp", {"seccomp": False}, None, "bwrap+uid"),
    ("user_all", {"is_root": False}, None, "bwrap+seccomp"),
    ("user_no_seccomp", {"is_root": False, "seccomp": False}, None, "bwrap"),
    ("no_bwrap_opt_in", {"bwrap": None, "bwrap_works": False}, True, "rlimits-only"),
    ("userns_blocked_opt_in", {"bwrap_works": False, "bwrap_error": "No permissions"}, True, "rlimits-only"),
]


@pytest.mark.parametrize("name,changes,allow,want", CASES, ids=[c[0] for c in CASES])
def test_select_mode(name, changes, allow, want, monkeypatch):
    monkeypatch.delenv("RLVR_ALLOW_UNSAFE_SANDBOX", raising=False)
    mode = select_mode(dataclasses.replace(BASE, **changes), allow)
    assert mode.name == want
    assert mode.safe is (want != "rlimits-only")


@pytest.mark.parametrize("allow,env", [(None, ""), (False, "1"), (None, "0")], ids=["default", "option_wins", "env_0"])
def test_refuses_below_minimum_without_opt_in(allow, env, monkeypatch):
    monkeypatch.setenv("RLVR_ALLOW_UNSAFE_SANDBOX", env)
    with pytest.raises(SandboxRefused, match="RLVR_ALLOW_UNSAFE_SANDBOX"):
        select_mode(dataclasses.replace(BASE, bwrap=None, bwrap_works=False, bwrap_error="bwrap not installed"), allow)


def test_env_opt_in(monkeypatch):
    monkeypatch.setenv("RLVR_ALLOW_UNSAFE_SANDBOX", "1")
    assert select_mode(dataclasses.replace(BASE, bwrap_works=False)).name == "rlimits-only"


def test_this_host_has_the_strongest_mode():
    p = probe_host()
    if not p.bwrap_works:
        pytest.skip(f"bubblewrap cannot build namespaces here: {p.bwrap_error}")
    mode = select_mode(p, False)
    assert mode.safe and mode.namespaces
    if p.is_root and p.seccomp:
        assert mode.name == "bwrap+seccomp+uid"
