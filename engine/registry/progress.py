"""What a pull or push tells its user: a live display on a terminal, plain lines otherwise.

The engine reports through a ``Progress`` (``status``, ``start``, ``advance``,
``done``); it never prints by itself. On a terminal each blob in flight gets a
line redrawn in place (``Copying blob 1a2b3c4d5e6f [=====>    ] 3.1MB / 9.8MB``);
anywhere else one line per blob when it is finished, as Podman prints to a
pipe. ``Progress()`` with no stream is silent. Thread-safe: layers report from
the worker threads that fetch them.
"""

from __future__ import annotations

import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{int(n)}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return str(n)


class Progress:
    """Silent by default; ``Progress(sys.stderr)`` draws (on a tty) or prints lines."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream
        self.live = bool(stream is not None and (stream.isatty() if live is None else live))
        self._lock = threading.Lock()
        self._bars: dict[str, list] = {}  # digest -> [label, done, total, finished note]
        self._drawn = 0
        self._last = 0.0

    def status(self, line: str) -> None:
        if self.stream is None:
            return
        with self._lock:
            self._clear()
            self.stream.write(line + "\n")
            self._draw()

    def start(self, kind: str, digest: str, total: int) -> None:
        if self.stream is None:
            return
        with self._lock:
            self._bars[digest] = [f"Copying {kind} {digest.split(':')[-1][:12]}", 0, total, None]
            self._refresh(force=True)

    def advance(self, digest: str, n: int) -> None:
        if self.stream is None:
            return
        with self._lock:
            bar = self._bars.get(digest)
            if bar is not None:
                bar[1] += n
                self._refresh()

    def done(self, kind: str, digest: str, note: str = "done") -> None:
        if self.stream is None:
            return
        with self._lock:
            bar = self._bars.pop(digest, None)
            label = bar[0] if bar else f"Copying {kind} {digest.split(':')[-1][:12]}"
            self._clear()
            self.stream.write(f"{label} {note}\n")
            self._draw()

    def close(self) -> None:
        if self.stream is None:
            return
        with self._lock:
            self._clear()
            self._bars.clear()
            self.stream.flush()

    # ---- drawing (lock held) ------------------------------------------------------
    def _refresh(self, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        self._clear()
        self._draw()

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}A\x1b[J")  # type: ignore[union-attr]
            self._drawn = 0

    def _draw(self) -> None:
        if not self.live:
            self.stream.flush()  # type: ignore[union-attr]
            return
        for label, done, total, _ in self._bars.values():
            width = 30
            frac = min(1.0, done / total) if total else 0.0
            fill = int(frac * width)
            arrow = "=" * fill + (">" if fill < width else "") + " " * max(0, width - fill - 1)
            self.stream.write(f"{label} [{arrow}] {_size(done)} / {_size(total)}\n")  # type: ignore[union-attr]
        self._drawn = len(self._bars)
        self.stream.flush()  # type: ignore[union-attr]
