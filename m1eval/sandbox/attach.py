"""A worker's standard input and output through the Docker API (``attach``), the only channel
between the host and a sandbox container: nothing of the host's filesystem is mounted into it,
so a pool whose process runs in a pod can start workers on the node's Docker daemon.

The container starts a two-line bootstrap under ``python3 -I -c`` that reads the agent's source
(length-prefixed) from its standard input and runs it; the agent then reads
LiveCodeBench's execution model the same way and serves requests, one JSON line each way.
Docker multiplexes an attached, non-TTY container's output in frames (an 8-byte header: the
stream, three zero bytes, the payload's length, big-endian); :class:`AttachedStream` reads
them back into the agent's byte stream.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Any

BOOTSTRAP = ("import sys\nr = sys.stdin.buffer\nsource = r.read(int(r.readline(32)))\n"
             "sys.argv = ['agent.py', '--attach']\n"
             "exec(compile(source, 'agent.py', 'exec'), {'__name__': '__main__'})\n")  # fmt: skip
STDOUT = 1


def framed(source: bytes) -> bytes:
    """A source as the bootstrap and the agent read it: its length on a line, then it."""
    return str(len(source)).encode() + b"\n" + source


class AttachedStream:
    """The attached socket of one container: ``sendall`` to its stdin, ``readline`` from its
    stdout (frames undone)."""

    def __init__(self, sock: Any) -> None:
        self.sock: socket.socket = getattr(sock, "_sock", sock)
        self._frame = b""  # an incomplete frame header or payload
        self._out = b""  # stdout bytes not yet read
        self.stderr = b""  # kept for the logs of a worker that fails to start

    def settimeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def readline(self, limit: int) -> bytes:
        """One line of stdout (with its newline); fewer bytes at the end of the stream, or
        ``limit`` bytes without a newline when the line is longer."""
        while b"\n" not in self._out and len(self._out) < limit:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                break
            self._unframe(chunk)
        end = self._out.find(b"\n")
        cut = min(end + 1 if end >= 0 else len(self._out), limit)
        line, self._out = self._out[:cut], self._out[cut:]
        return line

    def _unframe(self, chunk: bytes) -> None:
        self._frame += chunk
        while len(self._frame) >= 8:
            kind, size = struct.unpack(">BxxxL", self._frame[:8])
            if len(self._frame) < 8 + size:
                return
            payload, self._frame = self._frame[8 : 8 + size], self._frame[8 + size :]
            if kind == STDOUT:
                self._out += payload
            else:
                self.stderr = (self.stderr + payload)[-4096:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
