"""Run a module as ``__main__`` for as long as the process that started it lives.

    python -m m1eval.model.orphan_guard PARENT_PID MODULE [ARGS...]

The embedded llama.cpp server is started this way: when ``m1eval`` ends in any way, ``kill
-9`` included, the server notices within half a second that it has been re-parented and
exits, instead of keeping a core busy for minutes.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time

POLL_S = 0.5


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # the parent is gone: re-parented to init or a subreaper
            os._exit(0)
        time.sleep(POLL_S)


def main() -> None:
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m m1eval.model.orphan_guard PARENT_PID MODULE [ARGS...]")
    parent, module = int(sys.argv[1]), sys.argv[2]
    if os.getppid() != parent:
        sys.exit(0)  # already orphaned
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
