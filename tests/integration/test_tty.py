"""Pseudo-terminals on real containers: run -t/-it, exec -t/-it, compose and kube ``tty: true``.

The interactive cases drive the real CLI inside a pseudo-terminal of the test's
own (pty.fork), as a person at a terminal would: keys in, screen out, the
window size of the test's terminal, and that terminal's modes afterwards.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import PODIUM, REPO, Podium

pytestmark = pytest.mark.timeout(120)


def in_terminal(podium: Podium, args: list[str], keys: bytes, *, after: bytes = b"# ",
                size: tuple[int, int] = (33, 111), timeout: float = 60) -> tuple[int, bytes, list[int]]:
    """Run ``podium ARGS`` on a new terminal of ``size``; once ``after`` shows, type ``keys``
    (Enter is ``\\r`` on a terminal); answer cursor-position queries as a terminal does.
    Returns (exit code, everything the terminal showed, the terminal's termios afterwards)."""
    pid, master = pty.fork()
    if pid == 0:  # the child: its stdio is the terminal
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
            os.chdir(REPO)
            os.execve(PODIUM[0], [*PODIUM, *args], podium.env)
        finally:
            os._exit(127)
    out = bytearray()
    typed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child and every holder of the terminal are gone
                    break
                if not data:
                    break
                out += data
                if b"\x1b[6n" in data:  # busybox's line editor asks where the cursor is
                    os.write(master, b"\x1b[1;1R")
            if not typed and after in out:
                os.write(master, keys)
                typed = True
        modes = termios.tcgetattr(master)
    finally:
        os.close(master)
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), bytes(out), modes


def test_run_it_is_a_terminal_of_the_callers_size_and_restores_it(podium: Podium, image: str) -> None:
    code, shown, modes = in_terminal(podium, ["run", "--rm", "-it", image, "sh"],
                                     b"tty; stty size; exit 7\r")
    assert code == 7, shown
    assert b"/dev/pts/0" in shown and b"33 111" in shown, shown
    lflag = modes[3]
    assert lflag & termios.ECHO and lflag & termios.ICANON, "podium left the terminal in raw mode"
    assert podium("ps", "-aq").stdout.strip() == ""


def test_run_it_ctrl_c_goes_to_the_container_terminal(podium: Podium, image: str) -> None:
    # in raw mode ^C is a byte for the container's terminal, which makes it SIGINT there
    code, shown, _ = in_terminal(podium, ["run", "--rm", "-it", image, "sh", "-c",
                                          "trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done"],
                                 b"\x03", after=b"ready", timeout=30)
    assert b"ready" in shown and b"got-int" in shown, shown
    assert code == 5


def test_exec_it_and_exec_t(podium: Podium, image: str) -> None:
    podium("run", "-d", "--name", "box", image, "sleep", "300")
    code, shown, modes = in_terminal(podium, ["exec", "-it", "box", "sh"], b"tty; stty size; exit 4\r",
                                     size=(40, 90))
    assert code == 4, shown
    assert b"/dev/pts/" in shown and b"40 90" in shown, shown
    assert modes[3] & termios.ECHO
    # without a terminal of our own: -t alone still gives the command one, output relayed
    proc = podium("exec", "-t", "box", "sh", "-c", "tty; exit 3", check=False, input=b"")
    assert proc.returncode == 3 and proc.stdout.startswith(b"/dev/pts/"), proc
    assert proc.stdout.endswith(b"\r\n")  # a terminal's line ends
    bad = podium("exec", "-dt", "box", "true", check=False)
    assert bad.returncode == 125 and "not supported" in bad.stderr
    assert "box" in podium("ps", "--format", "{{.Names}}").stdout
    podium("rm", "-f", "-t", "0", "box")


def test_detached_tty_container_logs_its_terminal(podium: Podium, image: str) -> None:
    podium("run", "-d", "-t", "--name", "t", image, "sh", "-c", "tty; echo out; sleep 300")
    info = podium("inspect", "-f", "{{.Config.Tty}}", "t").stdout.strip()
    assert info == "true"
    deadline = time.monotonic() + 15
    while "out" not in podium("logs", "t").stdout:
        assert time.monotonic() < deadline, podium("logs", "t").stdout
        time.sleep(0.1)
    assert podium("logs", "t").stdout.splitlines()[0].strip() == "/dev/pts/0"
    podium("rm", "-f", "-t", "0", "t")


def test_compose_and_kube_tty_true(podium: Podium, image: str, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  t:\n    image: {image}\n    tty: true\n    command: sh -c 'tty; sleep 300'\n")
    podium("compose", "-f", str(tmp_path / "compose.yaml"), "-p", "ttyp", "up", "-d")
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ttyk}\nspec:\n  containers:\n"
        f"  - {{name: k, image: {image}, tty: true, stdin: true, command: [sh, -c, 'tty; sleep 300']}}\n")
    podium("kube", "play", str(tmp_path / "pod.yaml"))
    deadline = time.monotonic() + 15
    for name in ("ttyp-t-1", "ttyk-k"):
        while "/dev/pts/0" not in podium("logs", name).stdout:
            assert time.monotonic() < deadline, (name, podium("logs", name).stdout)
            time.sleep(0.1)
    podium("compose", "-f", str(tmp_path / "compose.yaml"), "-p", "ttyp", "down", "-t", "0")
    podium("kube", "down", str(tmp_path / "pod.yaml"))
    assert podium("ps", "-aq").stdout.strip() == ""
