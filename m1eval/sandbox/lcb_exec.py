"""LiveCodeBench's execution model, inside a sandbox test process (standard library only).

The official grader (``lcb_runner/evaluation/testing_util.py``) does not start a program per
test: it compiles the program once per problem, in its own process (a ``multiprocessing``
child, whose own ``sys.stdin`` reads nothing), and calls into it for each test. For a
standard-input problem the program's statements (all but its top-level imports, which are
hoisted and run at compile time) become the body of a function, after a trailing ``if __name__
== '__main__':`` block is unwrapped. Each call runs under ``unittest.mock.patch`` decorators,
entered innermost first: the process's real ``sys.stdin`` object gets ``read`` (the whole input,
every time), ``readline`` (the next line *without* its newline; ``StopIteration`` past the end)
and ``readlines`` (the lines, without newlines) patched in; then ``sys.stdin`` itself becomes a
stand-in whose ``readline`` is a ``StringIO``'s (newline kept, ``''`` at the end; ``input()``
reads through it), ``read``/``readlines`` as above, ``buffer`` the input's bytes (``readline``
gives the first line every time), anything else the ``StringIO``'s, and no iteration. So a
name bound to the real object at compile time (``from sys import stdin``, and ``stdin`` from the
prepended ``from sys import *``) reads the test's input through the patched methods. ``sys.stdout``
is a string buffer whose ``close`` takes an argument (so ``sys.stdout.close()`` raises
``TypeError``); a ``stdout`` bound at compile time is the real one, whose output is lost. The
guard disables ``quit``, ``help``, destructive ``os``/``shutil``/``subprocess`` functions and
the modules ``ipdb``, ``joblib``, ``resource``, ``psutil`` and ``tkinter``; ``SystemExit`` ends a
stdin test normally. For a call-based problem a single ``Solution()`` serves every test. The
module is named ``tmp_sol``, so a ``__main__`` guard that is not the last statement never runs.
Integers may have 50,000 digits.

This module reproduces that model as its own code, for ``--lcb-exec official`` (the default);
the sandbox around it is unchanged. Results cross back to the host, which compares them.
Call-based results are encoded so that the host's ``==`` behaves as it would on the objects:
tuples stay tuples (only a top-level tuple becomes a list, as upstream), integers keep every
digit, floats every bit, numpy arrays keep their shape and elements (the host applies numpy's
``==`` and upstream's ``.item(0)``), and objects of other types equal nothing (upstream would
call their ``__eq__``: a crafted one could equal anything).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import math
import numbers
import os
import signal
import sys
import time
import traceback
import types

MAX_STR_DIGITS = 50_000
MAX_ARRAY_ITEMS = 1_000_000
ENCODE_MAX_DEPTH = 64
ERR_TAIL = 2000
_MAIN_GUARD = "__name__ == '__main__'"
# what upstream's guard takes away from the program (as None), so that using it fails there
_DISABLED_OS = (
    "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
    "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
    "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir",
)  # fmt: skip
_BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")


class TestTimeout(Exception):
    pass


def wrap_stdio_program(code: str, import_string: str) -> str:
    """The program as upstream runs a standard-input solution: a trailing ``__main__`` block
    unwrapped, top-level imports hoisted, every other statement in ``wrapped_function``.
    Source that does not parse is returned as it is (and fails to compile, as upstream)."""
    try:
        tree = ast.parse(code)
        if tree.body and isinstance(tree.body[-1], ast.If) and (
                ast.unparse(tree.body[-1].test).strip() == _MAIN_GUARD):  # fmt: skip
            code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(tree.body[-1].body)
            tree = ast.parse(code)
    except Exception:
        pass
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        rest = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        fn = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                               defaults=[]),
            body=rest, decorator_list=[], lineno=-1,
        )  # fmt: skip
        return import_string + "\n" + ast.unparse(imports) + "\n" + ast.unparse(fn)
    except Exception:
        return code


class _StdinBytes:
    def __init__(self, text: str) -> None:
        self._data = text.encode("utf-8")

    def read(self, *args: object) -> bytes:
        return self._data

    def readline(self, *args: object) -> bytes:
        return self._data.split(b"\n")[0] + b"\n"


class StandInStdin:
    """``sys.stdin`` during a test: upstream's ``MockStdinWithBuffer``."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._io = io.StringIO(text)
        self.buffer = _StdinBytes(text)

    def read(self, *args: object) -> str:
        return self._text

    def readline(self, *args: object) -> str:
        return self._io.readline(*args)  # type: ignore[arg-type]

    def readlines(self, *args: object) -> list[str]:
        return self._text.split("\n")

    def __getattr__(self, name: str) -> object:
        return getattr(self._io, name)


_PATCHED = ("read", "readline", "readlines")


def patch_real_stdin(real: object, text: str) -> None:
    """Upstream's ``@patch("sys.stdin.read"/"readline"/"readlines", ...)``, entered before
    ``sys.stdin`` itself is replaced: on the process's real stdin object."""
    lines = iter(text.split("\n"))
    real.read = lambda *args: text  # type: ignore[attr-defined]
    real.readline = lambda *args: next(lines)  # type: ignore[attr-defined]
    real.readlines = lambda *args: text.split("\n")  # type: ignore[attr-defined]


def unpatch_real_stdin(real: object) -> None:
    for name in _PATCHED:
        with contextlib.suppress(AttributeError):
            delattr(real, name)


class OutputLimit(BaseException):
    """More output than the sandbox keeps (a BaseException: ``except Exception`` in the
    program does not swallow it)."""


class _Capture(io.StringIO):
    """``sys.stdout`` during a test: a string buffer that refuses to grow past the cap."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap, self.size, self.over = cap, 0, False

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > self.cap:  # characters: at most the bytes they encode to
            self.over = True
            raise OutputLimit
        return super().write(text)

    def close(self, x: object) -> int:  # type: ignore[override]
        """Upstream's ``close = lambda x: 1``: ``sys.stdout.close()`` is a ``TypeError``."""
        return 1

    def __del__(self) -> None:  # the finalizer's own close() call would raise, unheard
        return None


def encode_value(value: object, depth: int = 0) -> object:
    """A JSON form of a call's result that decodes to objects with the same ``==``."""
    if depth > ENCODE_MAX_DEPTH:
        raise ValueError("result nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"i": hex(value)}
    if isinstance(value, float):
        return {"f": value.hex() if math.isfinite(value) else repr(value)}
    if isinstance(value, list):
        return [encode_value(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"t": [encode_value(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"d": [[encode_value(k, depth + 1), encode_value(v, depth + 1)]
                      for k, v in value.items()]}  # fmt: skip
    if type(value).__name__ in ("bool_", "bool"):  # numpy's bool (numpy 2: "bool")
        return bool(value)
    if type(value).__name__ == "ndarray" and hasattr(value, "tolist"):
        flat = value.reshape(-1).tolist() if value.size <= MAX_ARRAY_ITEMS else None
        return {"nd": {"shape": list(value.shape), "dtype": str(value.dtype),
                       "flat": None if flat is None else [encode_value(v, depth + 1)
                                                          for v in flat]}}  # fmt: skip
    if isinstance(value, numbers.Integral):  # numpy integers equal Python ints
        return {"i": hex(int(value))}
    if type(value).__name__ == "Decimal" and hasattr(value, "as_tuple"):  # exact, as ==
        return {"D": str(value)}
    if isinstance(value, numbers.Rational):  # a Fraction compares exactly too
        return {"q": [hex(int(value.numerator)), hex(int(value.denominator))]}
    if isinstance(value, numbers.Real):
        return encode_value(float(value), depth)
    return {"o": type(value).__name__}


def _guard() -> None:
    """What upstream disables before running programs (as None: a call fails)."""
    builtins.quit = None  # type: ignore[assignment]
    builtins.help = None  # type: ignore[assignment]
    for name in _BLOCKED_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]
    for name in _DISABLED_OS:
        if hasattr(os, name):
            setattr(os, name, None)
    import shutil
    import subprocess

    shutil.rmtree = shutil.move = shutil.chown = None  # type: ignore[assignment]
    subprocess.Popen = None  # type: ignore[assignment,misc]


def _alarm(signum: int, frame: object) -> None:
    raise TestTimeout


def serve_problem(req: dict, control: io.BufferedReader, results: io.BufferedWriter,
                  import_string: str) -> None:  # fmt: skip
    """In the forked problem process: compile once, then one test per control line
    (``{"input": ...}``), one result line each; returns at end of input or after a test
    that leaves the process unusable."""
    timeout = max(1, int(req.get("timeout_s", 6)))
    cap = int(req.get("max_output_bytes", 4 * 1024 * 1024))
    call = req.get("mode") == "call"
    sys.set_int_max_str_digits(MAX_STR_DIGITS)
    signal.signal(signal.SIGALRM, _alarm)
    # a multiprocessing child's own stdin reads nothing (descriptor 0 is empty here)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
    # upstream's grader has numpy loaded before its guard takes functions away
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401
    _guard()
    code = (import_string + "\n\n" + req["code"]) if call else wrap_stdio_program(
        req["code"], import_string)  # fmt: skip
    target, problem = None, None
    signal.alarm(timeout)
    try:
        module = types.ModuleType("tmp_sol", "")
        exec(compile(code, "solution.py", "exec"), module.__dict__)
        if call:
            holder = module.Solution() if "class Solution" in code else module
            target = getattr(holder, str(req.get("fn_name")), None)
        else:
            target = getattr(module, "wrapped_function", None)
        if target is None:
            problem = "the program defines no " + (str(req.get("fn_name")) if call
                                                  else "wrapped_function")  # fmt: skip
    except TestTimeout:
        problem = "timeout"
    except BaseException as exc:
        problem = _tail(exc)
    finally:
        signal.alarm(0)
    for line in control:
        test = json.loads(line)
        if problem is not None:
            status = "timeout" if problem == "timeout" else "runtime_error"
            _send(results, {"status": status, "error": problem, "seconds": 0.0})
            return
        out = _run_call(target, test["input"], timeout) if call else _run_stdio(
            target, test["input"], timeout, cap)  # fmt: skip
        _send(results, out)
        if out["status"] != "ok":
            return


def _run_stdio(target: object, text: str, timeout: int, cap: int) -> dict:
    saved = (sys.stdin, sys.stdout, builtins.open)
    captured = _Capture(cap)
    patch_real_stdin(saved[0], text)
    sys.stdin, sys.stdout = StandInStdin(text), captured  # type: ignore[assignment]
    builtins.open = lambda *a, **k: io.StringIO(text)  # type: ignore[assignment]
    start = time.monotonic()
    status, error = "ok", None
    signal.alarm(timeout)
    try:
        target()  # type: ignore[operator]
    except SystemExit:
        pass
    except TestTimeout:
        status, error = "timeout", f"no result within {timeout} s"
    except BaseException as exc:
        status, error = "runtime_error", _tail(exc)
    finally:
        signal.alarm(0)
        sys.stdin, sys.stdout, builtins.open = saved  # type: ignore[assignment]
        unpatch_real_stdin(saved[0])
    if captured.over:  # whatever the program did with the exception
        status, error = "output_limit", f"stdout of more than {cap:,} bytes"
    out: dict = {"status": status, "seconds": round(time.monotonic() - start, 4)}
    if error is not None:
        out["error"] = error
        return out
    data = captured.getvalue().encode("utf-8", "surrogatepass")
    if len(data) > cap:
        return {**out, "status": "output_limit", "error": f"stdout of more than {cap:,} bytes"}
    out["stdout"] = data.decode("utf-8", "replace")
    return out


def _run_call(target: object, text: str, timeout: int) -> dict:
    start = time.monotonic()
    signal.alarm(timeout)
    try:
        args = [json.loads(line) for line in text.split("\n")]
        result = target(*args)  # type: ignore[operator]
        if isinstance(result, tuple):  # upstream: a top-level tuple counts as a list
            result = list(result)
        encoded = json.dumps(encode_value(result))
    except TestTimeout:
        return {"status": "timeout", "error": f"no result within {timeout} s",
                "seconds": round(time.monotonic() - start, 4)}  # fmt: skip
    except BaseException as exc:  # SystemExit included: upstream does not catch it here
        return {"status": "runtime_error", "error": _tail(exc),
                "seconds": round(time.monotonic() - start, 4)}  # fmt: skip
    finally:
        signal.alarm(0)
    return {"status": "ok", "result": encoded, "seconds": round(time.monotonic() - start, 4)}


def _tail(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-ERR_TAIL:] or type(exc).__name__


def _send(results: io.BufferedWriter, out: dict) -> None:
    results.write(json.dumps(out).encode() + b"\n")
    results.flush()
