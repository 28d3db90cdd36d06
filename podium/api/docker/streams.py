"""Docker's multiplexed stream: an 8-byte header (stream, 0, 0, 0, big-endian size) per frame.

Used when a container has no TTY by logs, attach and exec. Stream 1 is stdout,
2 stderr; conmon's attach packets say 2 and 3. A container with a TTY has one
stream only, and Docker sends it raw (``raw=True``: no headers at all).
"""

from __future__ import annotations

import socket
import struct
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

STDOUT, STDERR = 1, 2
MAX_FRAME = 64 * 1024


def spooled(spool: Any) -> Iterator[bytes]:
    """A response body read from a rewound spool file in 256 KiB pieces; the file is closed at the end."""
    try:
        while True:
            data = spool.read(256 * 1024)
            if not data:
                return
            yield data
    finally:
        spool.close()


def frame(stream: int, data: bytes) -> bytes:
    out = b""
    for i in range(0, len(data), MAX_FRAME):
        part = data[i:i + MAX_FRAME]
        out += struct.pack(">BxxxL", stream, len(part)) + part
    return out


def log_frames(lines: Iterator[Any], *, stdout: bool, stderr: bool, timestamps: bool,
               raw: bool = False) -> Iterator[bytes]:
    """engine.logs lines -> frames, one per line (``raw``: the bytes alone, a TTY's stream)."""
    for ln in lines:
        if ln.stream == "stderr":
            if not stderr:
                continue
            s = STDERR
        else:
            if not stdout:
                continue
            s = STDOUT
        text = ln.text.encode() + (b"\n" if ln.complete else b"")
        if timestamps:
            text = rfc3339nano(ln.time).encode() + b" " + text
        yield text if raw else frame(s, text)


def rfc3339nano(ts: str) -> str:
    """conmon's ``...246+00:00`` -> Docker's ``...246Z`` when the zone is UTC."""
    return ts[:-6] + "Z" if ts.endswith("+00:00") else ts


def pump_conmon(conmon: socket.socket, client: socket.socket, *, stdin: bool, raw: bool = False) -> None:
    """Copy a conmon attach socket to a hijacked client (frames, or ``raw`` for a TTY), and the
    client's bytes to stdin."""
    if stdin:
        def feed() -> None:
            try:
                while True:
                    data = client.recv(65536)
                    if not data:
                        break
                    conmon.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    conmon.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        threading.Thread(target=feed, daemon=True).start()
    else:
        try:
            conmon.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    try:
        while True:
            data = conmon.recv(8193)
            if not data:
                return
            stream = STDERR if data[0] == 3 else STDOUT
            if len(data) > 1:
                client.sendall(data[1:] if raw else frame(stream, data[1:]))
    except OSError:
        return
    finally:
        conmon.close()
