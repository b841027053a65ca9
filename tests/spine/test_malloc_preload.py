"""tcmalloc preloading (pipeline/allocator.py): which library, when a restart is due, and that a stage script's
process really runs with it (skipped where the library is not installed)."""

import subprocess
import sys

import pytest

from pipeline.allocator import TCMALLOC, malloc_library, preload_env

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
def libdir(tmp_path):
    (tmp_path / TCMALLOC).write_bytes(b"")
    return str(tmp_path)


def test_library_found_in_the_given_dirs_or_named_or_refused(libdir, tmp_path):
    assert malloc_library({}, dirs=(str(tmp_path / "none"), libdir)) == f"{libdir}/{TCMALLOC}"
    assert malloc_library({"RLVR_MALLOC": "system"}, dirs=(libdir,)) is None
    assert malloc_library({"RLVR_MALLOC_LIB": "/x/libjemalloc.so.2"}, dirs=(libdir,)) == "/x/libjemalloc.so.2"


@pytest.mark.parametrize("env, expect", [
    ({}, "LIB"),
    ({"LD_PRELOAD": "/opt/libfoo.so"}, "LIB:/opt/libfoo.so"),
    ({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}, None),   # a malloc already preloaded: left alone
    ({"RLVR_MALLOC_PRELOADED": "1"}, None),                   # restarted once already: never a loop
], ids=["plain", "appended", "other_malloc", "already_restarted"])
def test_restart_environment(libdir, env, expect):
    lib = f"{libdir}/{TCMALLOC}"
    new = preload_env(env, lib)
    if expect is None:
        assert new is None
    else:
        assert new["LD_PRELOAD"] == expect.replace("LIB", lib) and new["RLVR_MALLOC_PRELOADED"] == "1"
    assert preload_env(env, None) is None


def test_a_missing_named_library_is_one_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="RLVR_MALLOC_LIB"):
        preload_env({}, str(tmp_path / "nope.so"))


PROBE = ("import sys; sys.path.insert(0, {repo!r}); from pipeline.allocator import preload_malloc; preload_malloc(); "
         "print('tcmalloc' in open('/proc/self/maps').read(), sys.argv[1:])")


@pytest.mark.skipif(malloc_library() is None, reason=f"{TCMALLOC} is not installed (Debian: libtcmalloc-minimal4)")
@pytest.mark.parametrize("mode, mapped", [("tcmalloc", True), ("system", False)])
def test_the_restarted_process_runs_on_tcmalloc_with_its_arguments(mode, mapped):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("LD_PRELOAD", "RLVR_MALLOC_PRELOADED")}
    out = subprocess.run([sys.executable, "-c", PROBE.format(repo=str(REPO)), "a", "b c"], env={**env, "RLVR_MALLOC": mode},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{mapped} ['a', 'b c']"
