"""A corpus of LiveCodeBench programs written for the official grader's quirks.

Every program here was graded by LiveCodeBench's own ``lcb_runner`` (run by
``scripts/record_lcb_verdicts.py`` inside the sandbox image; the verdicts are in
``data/lcb_official_verdicts.json``); ``test_lcb_official_verdicts.py`` grades each with the
project's default (``--lcb-exec official``) in the real sandbox and must agree on every one.

The standard-input programs cross every way of reading input found in accepted solutions
(``READERS``) with problems whose tests have a final newline or none, blank lines and lines
whose length matters (``STDIN_PROBLEMS``); then ways of writing output, exiting, guarding
``__main__`` and importing; then call-based programs (tuples, numpy values, big integers,
state kept between tests).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# problem id -> (mode, fn_name, [(input, expected output)])
PROBLEMS: dict[str, dict[str, Any]] = {}


def _digits(n: int) -> str:
    """``str(n)`` past Python's default 4,300-digit limit."""
    return str(Decimal(n))


def _problem(pid: str, tests: list[tuple[str, str]], fn_name: str | None = None) -> None:
    PROBLEMS[pid] = {"fn_name": fn_name, "inputs": [t[0] for t in tests],
                     "outputs": [t[1] for t in tests]}  # fmt: skip


# a b -> a + b; the second test has no final newline
_problem("add", [("1 2\n", "3\n"), ("10 20", "30\n"), ("-5 5\n", "0\n")])
# n, then n integers on one line
_problem("sum_n", [("3\n1 2 3\n", "6\n"), ("2\n5 5", "10\n")])
# n, then n words: print each word's length (a kept newline changes it)
_problem("lengths", [("2\nab\ncde\n", "2\n3\n"), ("1\nxyz", "3\n")])
# n, a blank line, then n integers
_problem("blank", [("2\n\n3 4\n", "7\n"), ("1\n\n9", "9\n")])
# n -> 2**n, more digits than Python's default int/str limit
_problem("bigpow", [("10\n", "1024\n"), ("20000\n", _digits(2**20000) + "\n")])

# ways of reading a line: each defines rl() (the next line, as the idiom returns it)
READERS: dict[str, str] = {
    "input": "rl = input",
    "sys_readline": "import sys\nrl = sys.stdin.readline",
    "sys_readline_strip": "import sys\nrl = lambda: sys.stdin.readline().strip()",
    "sys_readline_rstrip": "import sys\nrl = lambda: sys.stdin.readline().rstrip('\\n')",
    "sys_readline_slice": "import sys\nrl = lambda: sys.stdin.readline()[:-1]",
    "input_is_readline": "import sys\ninput = sys.stdin.readline\nrl = input",
    "from_stdin_readline": "from sys import stdin\nrl = stdin.readline",
    "from_stdin_input": "from sys import stdin\ninput = stdin.readline\nrl = input",
    "from_stdin_strip": "from sys import stdin\nrl = lambda: stdin.readline().strip()",
    "bare_stdin": "rl = stdin.readline",
    "input_strip": "rl = lambda: input().strip()",
    "read_split_lines": "import sys\n_it = iter(sys.stdin.read().split('\\n'))\nrl = lambda: next(_it)",
    "read_splitlines": "import sys\n_it = iter(sys.stdin.read().splitlines())\nrl = lambda: next(_it)",
    "readlines": "import sys\n_it = iter(sys.stdin.readlines())\nrl = lambda: next(_it)",
    "from_stdin_read": "from sys import stdin\n_it = iter(stdin.read().split('\\n'))\nrl = lambda: next(_it)",
    "from_stdin_readlines": "from sys import stdin\n_it = iter(stdin.readlines())\nrl = lambda: next(_it)",
    "iterate_stdin": "import sys\n_it = iter(sys.stdin)\nrl = lambda: next(_it)",
    "open_0": "_it = iter(open(0).read().split('\\n'))\nrl = lambda: next(_it)",
    "buffer_readline": "import sys\nrl = lambda: sys.stdin.buffer.readline().decode()",
    "buffer_read": "import sys\n_it = iter(sys.stdin.buffer.read().decode().split('\\n'))\nrl = lambda: next(_it)",
    "os_read_0": "import os\n_it = iter(os.read(0, 1 << 20).decode().split('\\n'))\nrl = lambda: next(_it)",
    "iter_sentinel": "import sys\n_it = iter(sys.stdin.readline, '')\nrl = lambda: next(_it)",
    "stdin_getattr": "import sys\nrl = lambda: sys.stdin.readline(1000)",
    "main_guard_last": None,  # the same reader inside main() under a trailing __main__ guard
    "main_guard_not_last": None,  # ... under a guard followed by another statement
}
BODIES: dict[str, str] = {
    "add": "a, b = map(int, rl().split())\nprint(a + b)",
    "sum_n": "n = int(rl())\nprint(sum(map(int, rl().split())))",
    "lengths": "n = int(rl())\nfor _ in range(n):\n    print(len(rl()))",
    "blank": "n = int(rl())\nrl()\nprint(sum(map(int, rl().split())))",
}


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.split("\n"))


def _reader_program(reader: str, body: str) -> str:
    if reader == "main_guard_last":
        return ("import sys\ndef main():\n" + _indent("rl = sys.stdin.readline\n" + body)
                + "\n\nif __name__ == '__main__':\n    main()\n")  # fmt: skip
    if reader == "main_guard_not_last":
        return ("import sys\ndef main():\n" + _indent("rl = sys.stdin.readline\n" + body)
                + "\n\nif __name__ == '__main__':\n    main()\nX = 1\n")  # fmt: skip
    return READERS[reader] + "\n" + body + "\n"


ADD_READ = "a, b = map(int, input().split())\n"
# ways of writing, exiting and importing, on the "add" problem
WRITERS: dict[str, str] = {
    "print": ADD_READ + "print(a + b)",
    "print_flush": ADD_READ + "print(a + b, flush=True)",
    "print_end": ADD_READ + "print(a + b, end='')",
    "print_blank_lines": ADD_READ + "print()\nprint(a + b)\nprint()",
    "print_float": ADD_READ + "print(float(a + b))",
    "print_padded": ADD_READ + "print(' ', a + b, ' ')",
    "print_leading_zero": ADD_READ + "print('0' + str(a + b) if a + b > 0 else a + b)",
    "sys_stdout_write": "import sys\n" + ADD_READ + "sys.stdout.write(str(a + b) + '\\n')",
    "sys_stdout_write_no_newline": "import sys\n" + ADD_READ + "sys.stdout.write(str(a + b))",
    "from_stdout_write": "from sys import stdout\n" + ADD_READ + "stdout.write(str(a + b) + '\\n')",
    "bare_stdout_write": ADD_READ + "stdout.write(str(a + b) + '\\n')",
    "os_write_1": "import os\n" + ADD_READ + "os.write(1, (str(a + b) + '\\n').encode())",
    "stdout_buffer": "import sys\n" + ADD_READ + "sys.stdout.buffer.write(str(a + b).encode())",
    "stdout_close": "import sys\n" + ADD_READ + "print(a + b)\nsys.stdout.close()",
    "stdout_flush": "import sys\n" + ADD_READ + "print(a + b)\nsys.stdout.flush()",
    "stderr_only": "import sys\n" + ADD_READ + "print(a + b, file=sys.stderr)",
    "stderr_and_stdout": "import sys\n" + ADD_READ + "print('debug', file=sys.stderr)\nprint(a + b)",
    "input_prompt": "a, b = map(int, input('numbers: ').split())\nprint(a + b)",
    "exit_after": ADD_READ + "print(a + b)\nexit()",
    "sys_exit_after": "import sys\n" + ADD_READ + "print(a + b)\nsys.exit(0)",
    "sys_exit_1": "import sys\n" + ADD_READ + "print(a + b)\nsys.exit(1)",
    "raise_systemexit": ADD_READ + "print(a + b)\nraise SystemExit",
    "quit_after": ADD_READ + "print(a + b)\nquit()",
    "help_call": ADD_READ + "help(print)\nprint(a + b)",
    "os_system": "import os\n" + ADD_READ + "os.system('true')\nprint(a + b)",
    "import_resource": "import resource\n" + ADD_READ + "print(a + b)",
    "import_resource_late": ADD_READ + "import resource\nprint(a + b)",
    "import_joblib": "try:\n    import joblib\nexcept ImportError:\n    joblib = None\n" + ADD_READ + "print(a + b if joblib is None else -1)",
    "import_numpy": "import numpy as np\n" + ADD_READ + "print(np.int64(a) + np.int64(b))",
    "recursionlimit": "import sys\nsys.setrecursionlimit(10 ** 6)\n" + ADD_READ + "print(a + b)",
    "threading_join": "import threading\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\nt = threading.Thread(target=main)\nt.start()\nt.join()",
    "global_in_helper": "total = 0\ndef add(x):\n    global total\n    total += x\n" + ADD_READ + "add(a)\nadd(b)\nprint(total)",
    "closure_state": ADD_READ + "acc = []\ndef push(x):\n    acc.append(x)\npush(a)\npush(b)\nprint(sum(acc))",
    "lru_cache": "from functools import lru_cache\n@lru_cache(None)\ndef f(x):\n    return x\n" + ADD_READ + "print(f(a) + f(b))",
    "module_level_cache": "import sys\nCACHE = {}\n" + ADD_READ + "CACHE[a] = b\nprint(sum(CACHE.items().__iter__().__next__()))",
    "star_imports_used": ADD_READ + "print(reduce(add, [a, b]))",
    "syntax_error": ADD_READ + "print(a + b",
    "name_error": ADD_READ + "print(a + c)",
    "runtime_error": ADD_READ + "print(a + b)\nraise ValueError('boom')",
    "zero_division": ADD_READ + "print((a + b) // 0)",
    "timeout": "while True:\n    pass",
    "open_write": ADD_READ + "open('out.txt', 'w').write('x')\nprint(a + b)",
    "os_getcwd": "import os\n" + ADD_READ + "os.getcwd()\nprint(a + b)",
    "shutil_rmtree": "import shutil\n" + ADD_READ + "shutil.rmtree\nprint(a + b)",
    "subprocess_run": "import subprocess\n" + ADD_READ + "subprocess.run(['true'])\nprint(a + b)",
    "eof_loop": "import sys\ntotal = 0\nwhile True:\n    try:\n        line = input()\n    except EOFError:\n        break\n    total += sum(map(int, line.split()))\nprint(total)",
    "readline_until_empty": "import sys\ntotal = 0\nwhile True:\n    line = sys.stdin.readline()\n    if not line:\n        break\n    total += sum(map(int, line.split()))\nprint(total)",
    "from_stdin_until_empty": "from sys import stdin\ntotal = 0\nwhile True:\n    line = stdin.readline()\n    if not line:\n        break\n    total += sum(map(int, line.split()))\nprint(total)",
    "stdin_read_twice": "import sys\nfirst = sys.stdin.read()\nsecond = sys.stdin.read()\nprint(sum(map(int, second.split())))",
    "stdin_reassigned": "import sys, io\nsys.stdin = io.StringIO(sys.stdin.read())\na, b = map(int, sys.stdin.readline().split())\nprint(a + b)",
    "fast_io_bytes": "import io, os\ninput = io.BytesIO(os.read(0, os.fstat(0).st_size)).readline\na, b = map(int, input().split())\nprint(a + b)",
    "print_map": ADD_READ + "print(*map(str, [a + b]))",
    "print_sep": ADD_READ + "print(a + b, sep='\\n')",
    "print_list": ADD_READ + "print([a + b])",
}
BIGPOW: dict[str, str] = {
    "print_int": "n = int(input())\nprint(2 ** n)",
    "pow_builtin": "n = int(input())\nprint(pow(2, n))",
    "shift": "n = int(input())\nprint(1 << n)",
    "str_join": "n = int(input())\nprint(''.join(str(2 ** n)))",
}

# call-based problems: inputs are JSON lines, outputs JSON
_problem("addTwo", [("1\n2", "3"), ("10\n-4", "6")], fn_name="addTwo")
_problem("pairs", [("2", "[[1, 1], [2, 4]]"), ("1", "[[1, 1]]")], fn_name="pairs")
_problem("bigPow", [("5", "243"), ("10000", _digits(3**10000))], fn_name="bigPow")
_problem("counter", [("0", "1"), ("0", "1")], fn_name="counter")
_problem("freq", [('"aab"', '{"a": 2, "b": 1}'), ('"z"', '{"z": 1}')], fn_name="freq")
_problem("half", [("3", "1.5"), ("4", "2.0")], fn_name="half")
_problem("isEven", [("4", "true"), ("3", "false")], fn_name="isEven")
_problem("firstWord", [('"hello world"', '"hello"'), ('"a"', '"a"')], fn_name="firstWord")

CALLS: dict[str, tuple[str, str]] = {
    "add_solution": ("addTwo", "class Solution:\n    def addTwo(self, a: int, b: int) -> int:\n        return a + b"),
    "add_typing": ("addTwo", "from typing import List\nclass Solution:\n    def addTwo(self, a: int, b: int) -> int:\n        return sum([a, b])"),
    "add_module_function": ("addTwo", "def addTwo(a, b):\n    return a + b"),
    "add_str": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        return str(a + b)"),
    "add_float": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        return float(a + b)"),
    "add_tuple1": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        return (a + b,)"),
    "add_np_int64": ("addTwo", "import numpy as np\nclass Solution:\n    def addTwo(self, a, b):\n        return np.int64(a) + np.int64(b)"),
    "add_np_array1": ("addTwo", "import numpy as np\nclass Solution:\n    def addTwo(self, a, b):\n        return np.array([a + b])"),
    "add_np_array2": ("addTwo", "import numpy as np\nclass Solution:\n    def addTwo(self, a, b):\n        return np.array([a + b, 0])"),
    "add_np_array_0d": ("addTwo", "import numpy as np\nclass Solution:\n    def addTwo(self, a, b):\n        return np.array(a + b)"),
    "add_np_float": ("addTwo", "import numpy as np\nclass Solution:\n    def addTwo(self, a, b):\n        return np.float64(a + b)"),
    "add_print_and_return": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        print('debug')\n        return a + b"),
    "add_sys_exit": ("addTwo", "import sys\nclass Solution:\n    def addTwo(self, a, b):\n        sys.exit(0)"),
    "add_raises": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        raise ValueError('no')"),
    "add_none": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        pass"),
    "add_wrong_name": ("addTwo", "class Solution:\n    def add(self, a, b):\n        return a + b"),
    "add_syntax_error": ("addTwo", "class Solution:\n    def addTwo(self, a, b)\n        return a + b"),
    "add_timeout": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        while True:\n            pass"),
    "add_helper_class": ("addTwo", "class Helper:\n    pass\nclass Solution:\n    def addTwo(self, a, b):\n        return Helper and a + b"),
    "add_quit": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        quit()"),
    "add_bool_sum": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        return a + b + (a != a)"),
    "add_import_resource": ("addTwo", "import resource\nclass Solution:\n    def addTwo(self, a, b):\n        return a + b"),
    "add_decimal": ("addTwo", "from decimal import Decimal\nclass Solution:\n    def addTwo(self, a, b):\n        return Decimal(a) + Decimal(b)"),
    "half_fraction": ("half", "from fractions import Fraction\nclass Solution:\n    def half(self, n):\n        return Fraction(n, 2)"),
    "half_decimal": ("half", "from decimal import Decimal\nclass Solution:\n    def half(self, n):\n        return Decimal(n) / 2"),
    "add_fraction": ("addTwo", "from fractions import Fraction\nclass Solution:\n    def addTwo(self, a, b):\n        return Fraction(a + b)"),
    "add_main_guard": ("addTwo", "class Solution:\n    def addTwo(self, a, b):\n        return a + b\nif __name__ == '__main__':\n    print(Solution().addTwo(1, 2))"),
    "pairs_lists": ("pairs", "class Solution:\n    def pairs(self, n):\n        return [[i, i * i] for i in range(1, n + 1)]"),
    "pairs_tuples": ("pairs", "class Solution:\n    def pairs(self, n):\n        return [(i, i * i) for i in range(1, n + 1)]"),
    "pairs_outer_tuple": ("pairs", "class Solution:\n    def pairs(self, n):\n        return tuple([i, i * i] for i in range(1, n + 1))"),
    "pairs_generator": ("pairs", "class Solution:\n    def pairs(self, n):\n        return ([i, i * i] for i in range(1, n + 1))"),
    "pairs_np_2d": ("pairs", "import numpy as np\nclass Solution:\n    def pairs(self, n):\n        return np.array([[i, i * i] for i in range(1, n + 1)])"),
    "pairs_np_tolist": ("pairs", "import numpy as np\nclass Solution:\n    def pairs(self, n):\n        return np.array([[i, i * i] for i in range(1, n + 1)]).tolist()"),
    "pairs_np_int_elements": ("pairs", "import numpy as np\nclass Solution:\n    def pairs(self, n):\n        return [[np.int64(i), np.int64(i * i)] for i in range(1, n + 1)]"),
    "pairs_floats": ("pairs", "class Solution:\n    def pairs(self, n):\n        return [[float(i), float(i * i)] for i in range(1, n + 1)]"),
    "bigpow_int": ("bigPow", "class Solution:\n    def bigPow(self, n):\n        return 3 ** n"),
    "bigpow_str": ("bigPow", "class Solution:\n    def bigPow(self, n):\n        return str(3 ** n)"),
    "bigpow_off_by_one": ("bigPow", "class Solution:\n    def bigPow(self, n):\n        return 3 ** n + 1"),
    "bigpow_float": ("bigPow", "class Solution:\n    def bigPow(self, n):\n        return 3.0 ** n"),
    "counter_instance_state": ("counter", "class Solution:\n    def __init__(self):\n        self.n = 0\n    def counter(self, x):\n        self.n += 1\n        return self.n"),
    "counter_fresh": ("counter", "class Solution:\n    def counter(self, x):\n        n = 0\n        n += 1\n        return n"),
    "counter_class_state": ("counter", "class Solution:\n    calls = []\n    def counter(self, x):\n        self.calls.append(x)\n        return len(self.calls)"),
    "counter_global_state": ("counter", "seen = []\nclass Solution:\n    def counter(self, x):\n        seen.append(x)\n        return len(seen)"),
    "freq_dict": ("freq", "from collections import Counter\nclass Solution:\n    def freq(self, s):\n        return dict(Counter(s))"),
    "freq_counter": ("freq", "from collections import Counter\nclass Solution:\n    def freq(self, s):\n        return Counter(s)"),
    "freq_defaultdict": ("freq", "from collections import defaultdict\nclass Solution:\n    def freq(self, s):\n        d = defaultdict(int)\n        for c in s:\n            d[c] += 1\n        return d"),
    "freq_items": ("freq", "from collections import Counter\nclass Solution:\n    def freq(self, s):\n        return list(Counter(s).items())"),
    "half_float": ("half", "class Solution:\n    def half(self, n):\n        return n / 2"),
    "half_floor": ("half", "class Solution:\n    def half(self, n):\n        return n // 2"),
    "half_round": ("half", "class Solution:\n    def half(self, n):\n        return round(n / 2, 1)"),
    "half_np": ("half", "import numpy as np\nclass Solution:\n    def half(self, n):\n        return np.float32(n) / 2"),
    "iseven_bool": ("isEven", "class Solution:\n    def isEven(self, n):\n        return n % 2 == 0"),
    "iseven_int": ("isEven", "class Solution:\n    def isEven(self, n):\n        return 1 - n % 2"),
    "iseven_str": ("isEven", "class Solution:\n    def isEven(self, n):\n        return 'true' if n % 2 == 0 else 'false'"),
    "iseven_np_bool": ("isEven", "import numpy as np\nclass Solution:\n    def isEven(self, n):\n        return np.bool_(n % 2 == 0)"),
    "firstword_split": ("firstWord", "class Solution:\n    def firstWord(self, s):\n        return s.split()[0]"),
    "firstword_list": ("firstWord", "class Solution:\n    def firstWord(self, s):\n        return s.split()[:1]"),
    "firstword_bytes": ("firstWord", "class Solution:\n    def firstWord(self, s):\n        return s.split()[0].encode()"),
}


def programs() -> list[dict[str, Any]]:
    """Every program of the corpus: ``{"id", "problem", "code"}``."""
    out = []
    for reader in READERS:
        for problem, body in BODIES.items():
            out.append({"id": f"stdin/{problem}/{reader}", "problem": problem,
                        "code": _reader_program(reader, body)})  # fmt: skip
    for name, code in WRITERS.items():
        out.append({"id": f"stdout/{name}", "problem": "add", "code": code + "\n"})
    for name, code in BIGPOW.items():
        out.append({"id": f"bigpow/{name}", "problem": "bigpow", "code": code + "\n"})
    for name, (problem, code) in CALLS.items():
        out.append({"id": f"call/{name}", "problem": problem, "code": code + "\n"})
    return out


def as_json() -> str:
    return json.dumps({"problems": PROBLEMS, "programs": programs()}, indent=1, sort_keys=True)
