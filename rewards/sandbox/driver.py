"""In-sandbox harness: run by Debian's /usr/bin/python3 *inside* the sandbox (stdlib only).

It never sees expected values. It reads `/box/spec.bin` (marshal), lowers its own rlimits (so the
untrusted code inherits them and cannot raise them), then:

- mode "program": runs `code` as `__main__` (stdin/stdout tests; the parent compares stdout);
- mode "function": runs `prelude`, `setup` and `code` in one namespace, binds `candidate`
  to `entry_point`, evaluates each call expression and writes one framed line per call
  with a *serialised* result (exact builtin types read through base-class methods, so an
  object with an always-true `__eq__` or a lying `__repr__` serialises as "unsupported");
  "script" tests run trusted test code whose asserts were rewritten into `__rlvr_probe`
  calls that frame both sides for the parent to compare.

Frames are lines `\\x1eRLVR<nonce> <json>` (strings hex-encoded) written with os.write to a dup
of fd 1 taken before the untrusted code runs. Status frames (start, compile error, top-level exception) go to
stderr the same way. The parent trusts nothing else: not the exit code, not other output.
"""

import builtins
import marshal
import os
import resource
import sys
import types

with open(sys.argv[1] if len(sys.argv) > 1 else "/box/spec.bin", "rb") as _f:
    _SPEC = marshal.load(_f)  # written by the parent (trusted); json would cost ~20 ms of imports
_NONCE = _SPEC["nonce"]
_MARK = ("\x1eRLVR" + _NONCE + " ").encode()
_OUT = os.dup(1)
_ERR = os.dup(2)
_MAX_DEPTH = 60
_BOOL = bool  # captured before the untrusted code can rebind builtins


def _js(x):
    """JSON text of the driver's own frames: dict/list/bool/int and hex strings only (no escaping needed)."""
    if x is True or x is False:
        return "true" if x else "false"
    if isinstance(x, int):
        return int.__repr__(x)
    if isinstance(x, str):
        return '"' + x + '"'
    if isinstance(x, list):
        return "[" + ",".join(_js(v) for v in x) + "]"
    return "{" + ",".join('"%s":%s' % (k, _js(v)) for k, v in x.items()) + "}"


def _hex(s):
    return str.encode(s, "utf-8", "surrogatepass").hex()


def _frame(fd, obj):
    data = b"\n" + _MARK + _js(obj).encode() + b"\n"
    while data:
        data = data[os.write(fd, data):]


def _limits(lim):
    table = [("as_bytes", resource.RLIMIT_AS), ("nproc", resource.RLIMIT_NPROC),
             ("fsize_bytes", resource.RLIMIT_FSIZE), ("nofile", resource.RLIMIT_NOFILE),
             ("core", resource.RLIMIT_CORE), ("stack_bytes", resource.RLIMIT_STACK)]
    for key, res in table:
        if lim.get(key) is not None:
            _lower(res, lim[key], lim[key])
    if lim.get("cpu_s") is not None:
        _lower(resource.RLIMIT_CPU, lim["cpu_s"], lim["cpu_s"] + 1)


def _lower(res, soft, hard):
    """soft = hard = requested, clamped to an already lower hard limit inherited from the caller."""
    cur = resource.getrlimit(res)[1]
    if cur != resource.RLIM_INFINITY:
        soft, hard = min(soft, cur), min(hard, cur)
    resource.setrlimit(res, (soft, hard))


def _ser(v, depth=0):
    """Tagged JSON of builtin values; anything else is ["x", type name]. Never calls user methods."""
    if depth > _MAX_DEPTH:
        return ["x", "too deep"]
    try:
        if v is None:
            return ["N"]
        if v is True or v is False:
            return ["b", v is True]
        if isinstance(v, int):
            return ["i", int.__repr__(v)]
        if isinstance(v, float):
            return ["f", float.__repr__(v)]
        if isinstance(v, complex):
            return ["c", float.__repr__(complex.real.__get__(v)), float.__repr__(complex.imag.__get__(v))]
        if isinstance(v, str):
            return ["s", _hex(str.__str__(v))]
        if isinstance(v, (bytes, bytearray)):
            return ["y", bytes.hex(bytes(v)) if isinstance(v, bytearray) else bytes.hex(v)]
        if isinstance(v, list):
            return ["l", [_ser(x, depth + 1) for x in list.__iter__(v)]]
        if isinstance(v, tuple):
            return ["t", [_ser(x, depth + 1) for x in tuple.__iter__(v)]]
        if isinstance(v, frozenset):
            return ["F", [_ser(x, depth + 1) for x in frozenset.__iter__(v)]]
        if isinstance(v, set):
            return ["S", [_ser(x, depth + 1) for x in set.__iter__(v)]]
        if isinstance(v, dict):
            return ["d", [[_ser(k, depth + 1), _ser(x, depth + 1)] for k, x in dict.items(v)]]
        if isinstance(v, range):
            return ["r", [int.__repr__(range.start.__get__(v)), int.__repr__(range.stop.__get__(v)),
                          int.__repr__(range.step.__get__(v))]]
    except Exception as e:  # a fake __class__ makes the base-class call raise: unsupported
        return ["x", "bad"]
    return ["x", "unsupported"]


def _fresh_main():
    """A new `__main__` module for the untrusted code (pickling by name, e.g. multiprocessing, works)."""
    mod = types.ModuleType("__main__")
    mod.__file__ = "/tmp/solution.py"
    sys.modules["__main__"] = mod
    return mod.__dict__


def _safe(name):
    return "".join(c for c in str.__str__(name)[:80] if c.isascii() and (c.isalnum() or c in "_. "))


def _exc_name(e):
    return _safe(type(e).__name__)


def _run_program(code):
    try:
        compiled = compile(code, "solution.py", "exec")
    except (SyntaxError, ValueError) as e:
        _frame(_ERR, {"compile_error": _hex("%s: %s" % (_exc_name(e), e))})
        return
    exec(compiled, _fresh_main())


def _exec_or_frame(src, g, what):
    try:
        compiled = compile(src, what + ".py", "exec")
    except (SyntaxError, ValueError) as e:
        _frame(_ERR, {"compile_error": _hex("%s: %s" % (_exc_name(e), e)), "where": what})
        return False
    try:
        exec(compiled, g)
    except BaseException as e:  # includes SystemExit raised by the untrusted code
        _frame(_ERR, {"toplevel_error": _exc_name(e), "where": what})
        return False
    return True


def _probe_factory(index):
    counter = [0]

    def probe(kind, a, b=None):
        counter[0] += 1
        _frame(_OUT, {"s": index, "k": counter[0], "kind": _safe(kind), "a": _ser(a), "b": _ser(b)})
        return True
    return probe


def _run_function(spec):
    g = _fresh_main()
    for what in ("prelude", "setup", "code"):
        if spec.get(what) and not _exec_or_frame(spec[what], g, what):
            return
    entry = spec.get("entry_point")
    if entry and entry not in g:
        _frame(_ERR, {"toplevel_error": "NameError", "where": "entry_point " + _safe(entry)})
        return
    if entry:
        g["candidate"] = g[entry]
    truthy = spec.get("truthy") or []
    for i, call in enumerate(spec.get("calls", [])):
        try:
            value = eval(call, g)
            if i < len(truthy) and truthy[i]:
                value = _BOOL(value)  # `assert f(x)` tests truth, e.g. of a re.Match
        except BaseException as e:
            _frame(_OUT, {"t": i, "exc": _exc_name(e)})
            continue
        _frame(_OUT, {"t": i, "v": _ser(value)})
    for j, script in enumerate(spec.get("scripts", [])):
        g["__rlvr_probe"] = _probe_factory(j)
        try:
            exec(compile(script, "test_script.py", "exec"), g)
        except BaseException as e:
            _frame(_OUT, {"s": j, "exc": _exc_name(e)})
            continue
        _frame(_OUT, {"s": j, "done": True})
    _frame(_OUT, {"end": True})


def _site():
    """What `site` would add (the interpreter runs with -S to start ~10 ms faster)."""
    for p in ("/usr/local/lib/python3.11/dist-packages", "/usr/lib/python3/dist-packages"):
        if os.path.isdir(p):
            sys.path.append(p)
    builtins.exit = builtins.quit = sys.exit


def main():
    _limits(_SPEC.get("limits", {}))
    _site()
    sys.path[0] = os.getcwd()  # not the harness directory
    _frame(_ERR, {"start": True})
    sys.argv = ["solution.py"]
    if _SPEC["mode"] == "program":
        _run_program(_SPEC["code"])
    else:
        _run_function(_SPEC)
    sys.stdout.flush()


main()
