"""A run's status from facts, not only from what its manifest last said.

A run marks itself ``running`` when an invocation starts and writes how it ended when it ends;
a process killed with ``kill -9`` (or a machine that lost power) never writes the end. So the
manifest also names its owner: host name, process id and the process's start time (so a
recycled process id is not mistaken for the owner). A reader on the same host whose owner is
gone reads the run as ``interrupted``; on another host it cannot know, and says whose it is.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

RUNNING = "running"
INTERRUPTED = "interrupted"


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields follow the last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def owner() -> dict[str, Any]:
    """This process as a run's owner."""
    pid = os.getpid()
    return {"hostname": socket.gethostname(), "pid": pid, "pid_start": process_start(pid)}


def owner_alive(host: dict[str, Any]) -> bool | None:
    """Whether the owner recorded in ``host`` still runs: None when that cannot be known here
    (another host, or a manifest that names no owner)."""
    if not isinstance(host, dict) or host.get("hostname") != socket.gethostname():
        return None
    pid = host.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    recorded = host.get("pid_start")
    # a process started at another time holds the id now: the owner is gone
    return recorded is None or process_start(pid) in (None, recorded)


def effective_status(manifest: dict[str, Any]) -> str:
    """``interrupted`` for a run that says ``running`` whose owner is gone; the recorded
    status otherwise (``running on HOST`` where the owner is on another host)."""
    status = manifest.get("status")
    if status != RUNNING:
        return str(status) if status is not None else "unknown"
    host = manifest.get("host") or {}
    alive = owner_alive(host)
    if alive is False:
        return INTERRUPTED
    if alive is None and isinstance(host, dict) and host.get("hostname"):
        return f"{RUNNING} on {host['hostname']}"
    return RUNNING
