"""Names on DNS-enabled networks: aardvark-dns's entry files, written as netavark writes them.

aardvark-dns reads one file per network in ``<config>/aardvark-dns/``: line 1
holds the network's gateway (where aardvark listens, UDP port 53), then one
line per container ``<id> <ipv4s,> <ipv6s,> <names,>`` (names: the container
name and its aliases). It re-reads them on SIGHUP and exits once no file is
left. ``<config>/aardvark.lock`` is the flock netavark holds while editing, so
the fast path and netavark can share one config dir. ``<config>`` is
``RUNROOT/netavark``: one aardvark per podium run root, never Podman's.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
from contextlib import contextmanager

from ..errors import RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

AARDVARK = "/usr/lib/podman/aardvark-dns"
SEARCH_DOMAIN = "dns.podman"


def entry_line(cid: str, ips: list[str], names: list[str]) -> str:
    return f"{cid} {','.join(ips)}  {','.join(names)}\n"


def with_entry(text: str, gateway: str, cid: str, line: str) -> str:
    """The file's text with ``cid``'s line replaced or added (pure)."""
    lines = text.splitlines(keepends=True) if text else [gateway + "\n"]
    kept = [ln for ln in lines[1:] if ln.split(" ", 1)[0] != cid]
    return "".join([lines[0]] + kept + [line])


def without_entry(text: str, cid: str) -> str | None:
    """The file's text without ``cid``'s line; None once no container is left (pure)."""
    lines = text.splitlines(keepends=True)
    kept = [ln for ln in lines[1:] if ln.strip() and ln.split(" ", 1)[0] != cid]
    return "".join(lines[:1] + kept) if kept else None


class Aardvark:
    """The aardvark-dns of one config dir."""

    def __init__(self, config: str, binary: str = AARDVARK) -> None:
        self.config = config
        self.dir = os.path.join(config, "aardvark-dns")
        self.binary = binary

    @contextmanager
    def locked(self) -> Iterator[None]:
        os.makedirs(self.dir, exist_ok=True)
        fd = os.open(os.path.join(self.config, "aardvark.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def pid(self) -> int | None:
        """The running daemon's PID (from its pid file, checked alive), or None."""
        try:
            with open(os.path.join(self.dir, "aardvark.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        try:  # a zombie (PID 1 here reaps lazily) is not a server
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return None
        except OSError:
            return None
        return pid

    def _write(self, network: str, text: str | None) -> None:
        path = os.path.join(self.dir, network)
        if text is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def _read(self, network: str) -> str:
        try:
            with open(os.path.join(self.dir, network)) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def add(self, entries: list[tuple[str, str, str, list[str], list[str]]]) -> None:
        """(network, gateway, cid, ips, names) each; then reload or start the daemon."""
        if not entries:
            return
        with self.locked():
            for network, gateway, cid, ips, names in entries:
                self._write(network, with_entry(self._read(network), gateway, cid,
                                                entry_line(cid, ips, names)))
            self._notify(start=True)

    def remove(self, cid: str, networks: list[str]) -> None:
        if not networks:
            return
        with self.locked():
            changed = False
            for network in networks:
                text = self._read(network)
                if text:
                    self._write(network, without_entry(text, cid))
                    changed = True
            if changed:
                self._notify(start=False)

    def _idle(self) -> bool:
        try:
            return not any(not f.startswith(".") and f != "aardvark.pid" and not f.endswith(".tmp")
                           for f in os.listdir(self.dir))
        except FileNotFoundError:
            return True

    def stop_if_idle(self) -> None:
        """Once no network has names left, end the daemon now rather than on its next read.

        A SIGHUP makes it exit once it has re-read an empty directory; but if the directory
        is gone by then (a test's temporary run root), it keeps running, bound to the
        gateway, and answers for the next network with that address. So: SIGTERM, by the
        PID of our own pid file, wait until it is gone, remove the pid file.
        """
        with self.locked():
            if not self._idle():
                return
            pid = self.pid()
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                _wait_gone(pid)
            try:
                os.unlink(os.path.join(self.dir, "aardvark.pid"))
            except FileNotFoundError:
                pass

    def remove_network(self, network: str) -> None:
        """Drop a whole network's names (``network rm`` after a crash left some)."""
        if not os.path.exists(os.path.join(self.dir, network)):
            return
        with self.locked():
            self._write(network, None)
            self._notify(start=False)

    def _notify(self, *, start: bool) -> None:
        pid = self.pid()
        if pid is not None:
            if not start and self._idle():
                os.kill(pid, signal.SIGTERM)  # nothing left to serve: see stop_if_idle
                _wait_gone(pid)
                try:
                    os.unlink(os.path.join(self.dir, "aardvark.pid"))
                except FileNotFoundError:
                    pass
            else:
                os.kill(pid, signal.SIGHUP)
            return
        if not start:
            return
        # It daemonizes (setsid) and its first process exits once the server listens. The
        # daemon keeps the stderr it was given, so that is an unlinked file, not a pipe.
        import tempfile
        with tempfile.TemporaryFile(dir=self.config) as err:
            proc = subprocess.run([self.binary, "--config", self.dir, "-p", "53", "run"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                  close_fds=True)
            if proc.returncode != 0:
                err.seek(0)
                lines = [ln for ln in err.read().decode(errors="replace").splitlines()
                         if "syslog" not in ln]
                raise RuntimeFailure(f"aardvark-dns failed to start: {lines[-1] if lines else proc.returncode}")

    def stop(self) -> None:
        """Ask the daemon to exit (only ours: the PID from our pid file)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)


def _wait_gone(pid: int, timeout: float = 2.0) -> None:
    """Until ``pid`` has exited (a zombie counts: init reaps daemons lazily here)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except (OSError, IndexError):
            return
        time.sleep(0.002)
