"""Containers for real: run, logs, exec, stop, rm on runc + conmon."""

from __future__ import annotations

import os
import subprocess
import time

from tests.conftest import Podium


def test_run_rm_prints_and_exits_with_code(podium: Podium, image: str) -> None:
    r = podium("run", "--rm", image, "sh", "-c", "echo hi; echo oops >&2; exit 3", check=False)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "hi\n"
    assert "oops" in r.stderr
    assert podium("ps", "-aq").stdout.strip() == ""


def test_run_detached_lifecycle(podium: Podium, image: str) -> None:
    cid = podium("run", "-d", "--name", "web", image, "sh", "-c",
                 "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done").stdout.strip()
    assert len(cid) == 64
    # No podium process stays behind: only conmon watches the container.
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert not [ln for ln in out.splitlines() if "-m podium" in ln and str(podium.root) in ln
                and "cleanup" not in ln]
    assert [ln for ln in out.splitlines() if "conmon" in ln and cid in ln]
    ps = podium("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert ps.startswith("web Up"), ps
    deadline = time.time() + 5
    while "started" not in podium("logs", "web").stdout and time.time() < deadline:
        time.sleep(0.05)
    assert podium("logs", "web").stdout == "started\n"
    ex = podium("exec", "-e", "X=42", "web", "sh", "-c", "echo $X; exit 4", check=False)
    assert (ex.returncode, ex.stdout) == (4, "42\n")
    podium("stop", "-t", "5", "web")
    insp = podium("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "web").stdout
    assert insp.strip() == "exited 0"
    podium("rm", "web")
    assert podium("ps", "-aq").stdout.strip() == ""


def test_stop_kills_after_grace(podium: Podium, image: str) -> None:
    cid = podium("run", "-d", "--name", "stubborn", image, "sleep", "60").stdout.strip()
    t0 = time.monotonic()
    podium("stop", "-t", "1", "stubborn")
    assert time.monotonic() - t0 < 8
    code = podium("inspect", "--format", "{{.State.ExitCode}}", "stubborn").stdout.strip()
    assert code == "137"
    # the stop cleaned up itself: its mark (which tells conmon's exit command to skip) is gone
    assert not (podium.runroot / "containers" / cid / "stopping").exists()


def test_an_exit_of_its_own_after_a_stop_is_cleaned_up_by_conmon(podium: Podium, image: str) -> None:
    cid = podium("run", "-d", "--name", "quitter", image, "sh", "-c",
                 "until [ -e /tmp/quit ]; do sleep 0.05; done").stdout.strip()
    podium("stop", "-t", "0", "quitter")
    podium("start", "quitter")
    merged = str(podium.root / "containers" / cid / "merged")

    def mounted() -> bool:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == merged for line in f)

    assert mounted()
    podium("exec", "quitter", "touch", "/tmp/quit")
    deadline = time.monotonic() + 15
    while mounted():  # no podium command runs meanwhile: only conmon's exit command unmounts
        assert time.monotonic() < deadline, "conmon's exit command did not clean up"
        time.sleep(0.05)
    assert podium("inspect", "-f", "{{.State.Status}}", "quitter").stdout.strip() == "exited"


def test_bad_input_is_one_line_exit_125(podium: Podium, image: str) -> None:
    cases = [
        ("run", "--rm", "nosuchimage", "true"),
        ("run", "--bogus-flag", image),
        ("run", "--rm", "--memory", "lots", image, "true"),
        ("run", "--rm", "-v", "/nonexistent/src:/x", image, "true"),
    ]
    for args in cases:
        r = podium(*args, check=False)
        assert r.returncode == 125, (args, r.returncode, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error:"), (args, r.stderr)
        assert "Traceback" not in r.stderr
    podium("create", "--name", "dup", image, "true")
    r = podium("create", "--name", "dup", image, "true", check=False)
    assert r.returncode == 125 and "already in use" in r.stderr
    assert podium("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["dup"]


def test_command_not_found_is_127(podium: Podium, image: str) -> None:
    r = podium("run", "--rm", image, "nosuchcommand", check=False)
    assert r.returncode == 127, r.stderr
    assert podium("ps", "-aq").stdout.strip() == ""


def test_restart_on_failure(podium: Podium, image: str) -> None:
    podium("run", "-d", "--name", "flaky", "--restart", "on-failure:2", image, "sh", "-c", "exit 1")
    deadline = time.time() + 20
    while time.time() < deadline:
        out = podium("inspect", "--format", "{{.RestartCount}} {{.State.Status}}", "flaky").stdout.split()
        if out == ["2", "exited"]:
            break
        time.sleep(0.2)
    assert out == ["2", "exited"]


def test_concurrent_run_detached(podium: Podium, image: str) -> None:
    procs = [subprocess.Popen([*__import__("tests.conftest", fromlist=["PODIUM"]).PODIUM, "run", "-d",
                               image, "sleep", "30"], env=podium.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(10)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    ids = {o[0].strip() for o in outs}
    assert len(ids) == 10
    names = podium("ps", "--format", "{{.Names}}").stdout.split()
    assert len(names) == 10 and len(set(names)) == 10


def test_foreground_run_proxies_signals(podium: Podium, image: str) -> None:
    from tests.conftest import PODIUM
    proc = subprocess.Popen([*PODIUM, "run", "--rm", "--name", "fg", image, "sh", "-c",
                             "trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done"],
                            env=podium.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(2)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 5, err
    assert "got-int" in out
    assert podium("ps", "-aq").stdout.strip() == ""


def test_init_forwards_stop_signal(podium: Podium, image: str) -> None:
    podium("run", "-d", "--init", "--name", "withinit", image, "sleep", "60")
    top = podium("top", "withinit").stdout
    assert "catatonit" in top or "podium-init" in top, top
    t0 = time.monotonic()
    podium("stop", "withinit")
    assert time.monotonic() - t0 < 5, "sleep under catatonit should die on SIGTERM at once"
    assert podium("inspect", "--format", "{{.State.ExitCode}}", "withinit").stdout.strip() in ("143", "0")
