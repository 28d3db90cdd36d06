"""Health checks on real containers, on a host without systemd: the checker loop, actions, exit codes.

Every wait polls with a deadline; the checks run each second (``--health-interval 1s``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import Podium, need

MARK = b"podium-healthcheck"


def wait_for(what: str, pred: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def inspect(podium: Podium, ref: str) -> dict[str, Any]:
    return json.loads(podium("inspect", ref).stdout)[0]


def health(podium: Podium, ref: str) -> dict[str, Any]:
    return inspect(podium, ref)["State"].get("Health") or {}


def checker_pid(podium: Podium, cid: str) -> int | None:
    try:
        return int((podium.runroot / "containers" / cid / "healthcheck.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    """A live process (a zombie waiting for PID 1 to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def processes_of(cid: str) -> list[int]:
    """Live processes whose command line names the container: checker loops and checks."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if cid.encode() in argv and (MARK in argv or b"--from-checker" in argv) and alive(int(d)):
            out.append(int(d))
    return out


def run_with_check(podium: Podium, image: str, *flags: str, name: str) -> str:
    need(os.path.exists("/usr/bin/catatonit"), "catatonit is not installed (--init)")
    return podium("run", "-d", "--init", "--name", name, "--health-interval", "1s", *flags,
                  image, "sleep", "1000").stdout.strip()


def test_healthy_then_unhealthy_then_stopped_without_systemd(podium: Podium, image: str) -> None:
    cid = run_with_check(podium, image, "--health-cmd", "test -f /tmp/ok", "--health-retries", "2",
                         name="web")
    info = inspect(podium, "web")
    assert info["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /tmp/ok"],
                                             "Interval": 1_000_000_000, "Timeout": 30_000_000_000,
                                             "StartPeriod": 0, "Retries": 2}
    assert info["Config"]["HealthcheckOnFailureAction"] == "none"
    assert info["State"]["Health"]["Status"] == "starting"
    assert info["State"]["Healthcheck"] == info["State"]["Health"]

    pid = checker_pid(podium, cid)
    assert pid and alive(pid), "a checker loop runs next to conmon"
    # the first check runs at once (as in Podman); between checks: one process, no children
    # (the waits are a shell builtin), small
    wait_for("the first check", lambda: health(podium, "web").get("Log"))
    wait_for("the checker idle", lambda: not Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    rollup = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    # What the checker really costs is its dirty memory: busybox's clean text pages are
    # counted "private" whenever no other busybox process happens to map them.
    dirty_kb = int(rollup["Private_Dirty"].split()[0])
    print(f"\nchecker {pid}: Rss {rollup['Rss'].strip()}, Pss {rollup['Pss'].strip()}, private dirty {dirty_kb} kB")
    assert dirty_kb < 512

    podium("exec", "web", "touch", "/tmp/ok")
    wait_for("healthy", lambda: health(podium, "web").get("Status") == "healthy")
    ps = podium("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert "web Up" in ps and ps.rstrip().endswith("(healthy)"), ps

    podium("exec", "web", "rm", "/tmp/ok")
    h = wait_for("unhealthy", lambda: (lambda h: h if h.get("Status") == "unhealthy" else None)(
        health(podium, "web")))
    assert h["FailingStreak"] >= 2
    assert 1 <= len(h["Log"]) <= 5 and h["Log"][-1]["ExitCode"] == 1
    assert {"Start", "End", "ExitCode", "Output"} <= set(h["Log"][-1])
    assert "(unhealthy)" in podium("ps").stdout
    assert checker_pid(podium, cid) == pid and alive(pid)

    podium("stop", "web")
    wait_for("the checker to end with the container", lambda: not alive(pid), timeout=5)
    assert "healthy)" not in podium("ps", "-a", "--format", "{{.Status}}").stdout

    podium("start", "web")
    pid2 = wait_for("a new checker", lambda: checker_pid(podium, cid))
    assert pid2 != pid and alive(pid2)
    assert health(podium, "web")["Status"] == "starting"
    podium("rm", "-f", "web")
    wait_for("no checker or check left", lambda: not alive(pid2) and not processes_of(cid), timeout=10)


def test_first_check_runs_at_start_not_one_interval_later(podium: Podium, image: str) -> None:
    """As in Podman: a 30 s interval must not delay the first verdict by 30 s."""
    podium("run", "-d", "--name", "quick", "--health-cmd", "true", "--health-interval", "30s", image,
           "sleep", "1000")
    started = time.monotonic()
    h = wait_for("healthy", lambda: (lambda h: h if h.get("Status") == "healthy" else None)(
        health(podium, "quick")), timeout=15)
    assert time.monotonic() - started < 15 and len(h["Log"]) == 1 and h["Log"][0]["ExitCode"] == 0
    podium("rm", "-f", "-t", "0", "quick")


def test_checker_ends_when_the_container_exits_by_itself(podium: Podium, image: str) -> None:
    cid = podium("run", "-d", "--name", "short", "--health-cmd", "true", "--health-interval", "1s", image,
                 "sh", "-c", "until [ -e /tmp/quit ]; do sleep 0.1; done").stdout.strip()
    pid = wait_for("checker", lambda: checker_pid(podium, cid))
    podium("exec", "short", "touch", "/tmp/quit")  # the container ends on its own
    wait_for("the container to exit", lambda: inspect(podium, "short")["State"]["Status"] == "exited")
    wait_for("the checker to end", lambda: not alive(pid), timeout=5)
    assert not processes_of(cid)


def test_on_failure_restart(podium: Podium, image: str) -> None:
    # fails once when told to (/tmp lives in the container's own layer, which a restart keeps)
    cid = run_with_check(podium, image, "--health-cmd", "test ! -f /tmp/break || { rm /tmp/break; exit 1; }",
                         "--health-retries", "1", "--health-on-failure", "restart", name="flaky")
    first = wait_for("healthy", lambda: (lambda i: i if (i["State"].get("Health") or {}).get("Status") == "healthy"
                                         else None)(inspect(podium, "flaky")))
    assert first["RestartCount"] == 0 and first["Config"]["HealthcheckOnFailureAction"] == "restart"
    old_pid = checker_pid(podium, cid)
    podium("exec", "flaky", "touch", "/tmp/break")
    after = wait_for("a restart, then healthy", lambda: (lambda i: i if i["RestartCount"] >= 1 and (
        i["State"].get("Health") or {}).get("Status") == "healthy" else None)(inspect(podium, "flaky")), timeout=30)
    assert after["State"]["StartedAt"] != first["State"]["StartedAt"]
    assert after["State"]["Status"] == "running" and after["RestartCount"] == 1
    assert not alive(old_pid), "the old run's checker ended"
    wait_for("the new run's checker", lambda: (lambda p: p and p != old_pid and alive(p))(
        checker_pid(podium, cid)))
    podium("rm", "-f", "flaky")
    wait_for("no checker or check left", lambda: not processes_of(cid), timeout=15)


@pytest.mark.parametrize("action, code", [("stop", None), ("kill", 137)])
def test_on_failure_stop_and_kill(podium: Podium, image: str, action: str, code: int | None) -> None:
    cid = run_with_check(podium, image, "--health-cmd", "false", "--health-retries", "1",
                         "--health-on-failure", action, name=f"bad-{action}")
    pid = wait_for("checker", lambda: checker_pid(podium, cid))
    info = wait_for(f"{action} on failure", lambda: (lambda i: i if i["State"]["Status"] == "exited" else None)(
        inspect(podium, f"bad-{action}")), timeout=20)
    assert info["State"]["Health"]["Status"] == "unhealthy"
    assert info["RestartCount"] == 0
    if code is not None:
        assert info["State"]["ExitCode"] == code
    wait_for("the checker to end", lambda: not alive(pid), timeout=5)
    wait_for("no check left", lambda: not processes_of(cid), timeout=10)


def test_healthcheck_run_exit_codes(podium: Podium, image: str) -> None:
    podium("run", "-d", "--init", "--name", "manual", "--health-cmd", '["test", "-f", "/tmp/ok"]',
           "--health-interval", "disable", image, "sleep", "1000")
    info = inspect(podium, "manual")
    assert info["Config"]["Healthcheck"]["Test"] == ["CMD", "test", "-f", "/tmp/ok"]
    assert info["Config"]["Healthcheck"]["Interval"] == 0
    assert checker_pid(podium, info["Id"]) is None, "interval disable: no checker"

    r = podium("healthcheck", "run", "manual", check=False)
    assert (r.returncode, r.stdout) == (1, "unhealthy\n")
    podium("exec", "manual", "touch", "/tmp/ok")
    r = podium("healthcheck", "run", "manual", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    h = health(podium, "manual")
    assert h["Status"] == "healthy" and [e["ExitCode"] for e in h["Log"]] == [1, 0]

    podium("run", "-d", "--init", "--name", "plain", image, "sleep", "1000")
    r = podium("healthcheck", "run", "plain", check=False)
    assert r.returncode == 125 and "has no defined healthcheck" in r.stderr
    assert "Health" not in inspect(podium, "plain")["State"]
    r = podium("healthcheck", "run", "nosuch", check=False)
    assert r.returncode == 125 and "no such container" in r.stderr
    podium("stop", "manual")
    r = podium("healthcheck", "run", "manual", check=False)
    assert r.returncode == 125 and "is not running" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_timeout_and_missing_command(podium: Podium, image: str) -> None:
    podium("run", "-d", "--init", "--name", "slow", "--health-cmd", "sleep 30", "--health-timeout", "1s",
           "--health-interval", "disable", image, "sleep", "1000")
    t0 = time.monotonic()
    r = podium("healthcheck", "run", "slow", check=False)
    assert r.returncode == 1 and time.monotonic() - t0 < 8
    entry = health(podium, "slow")["Log"][-1]
    assert entry["ExitCode"] == -1 and "exceeded timeout of 1s" in entry["Output"]
    procs = podium("exec", "slow", "ps", "-o", "args").stdout
    assert "sleep 30" not in procs, "the timed-out check was killed"

    podium("run", "-d", "--init", "--name", "nocmd", "--health-cmd", '["no-such-cmd", "x"]',
           "--health-interval", "disable", image, "sleep", "1000")
    r = podium("healthcheck", "run", "nocmd", check=False)
    assert r.returncode == 1
    entry = health(podium, "nocmd")["Log"][-1]
    assert entry["ExitCode"] == 127 and "not found" in entry["Output"]

    podium("run", "-d", "--init", "--name", "chatty", "--health-cmd", "echo out; echo err >&2; exit 3",
           "--health-interval", "disable", image, "sleep", "1000")
    r = podium("healthcheck", "run", "chatty", check=False)
    assert r.returncode == 1
    entry = health(podium, "chatty")["Log"][-1]
    # both streams are kept; their order depends on the runtime's copying
    assert entry["ExitCode"] == 3 and sorted(entry["Output"].splitlines()) == ["err", "out"]


def test_bad_health_flags_are_one_line_errors(podium: Podium, image: str) -> None:
    for flags, text in ((["--health-cmd", "true", "--health-interval", "10"], "invalid health interval"),
                        (["--health-cmd", "true", "--health-retries", "0"], "greater than 0"),
                        (["--health-cmd", "true", "--health-on-failure", "boom"], "none, kill, restart, stop"),
                        (["--health-cmd", "true", "--no-healthcheck"], "conflict")):
        r = podium("create", *flags, image, check=False)
        assert r.returncode == 125 and text in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert podium("ps", "-aq").stdout == ""


def image_with_healthcheck(podium: Podium, tmp_path: Path, image: str, hc: dict[str, Any], name: str) -> str:
    """Save ``image``, put ``hc`` into its config (Docker's Healthcheck), load it back as ``name``."""
    src, dst = tmp_path / "in.tar", tmp_path / "out.tar"
    podium("save", "-o", str(src), image)
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        members = {m.name: m for m in tin.getmembers()}
        manifest = json.loads(tin.extractfile("manifest.json").read())  # type: ignore[union-attr]
        old = manifest[0]["Config"]
        config = json.loads(tin.extractfile(old).read())  # type: ignore[union-attr]
        config["config"]["Healthcheck"] = hc
        data = json.dumps(config).encode()
        new = hashlib.sha256(data).hexdigest() + ".json"
        manifest[0]["Config"], manifest[0]["RepoTags"] = new, [f"{name}:latest"]
        for m in tin.getmembers():
            if m.name in (old, "manifest.json"):
                continue
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
        for fname, blob in ((new, data), ("manifest.json", json.dumps(manifest).encode())):
            ti = tarfile.TarInfo(fname)
            ti.size = len(blob)
            tout.addfile(ti, io.BytesIO(blob))
        assert members
    podium("load", "-i", str(dst))
    return name


def test_image_healthcheck_and_no_healthcheck(podium: Podium, image: str, tmp_path: Path) -> None:
    hc = {"Test": ["CMD-SHELL", "test -e /etc/motd"], "Interval": 1_000_000_000, "Retries": 1}
    img = image_with_healthcheck(podium, tmp_path, image, hc, "checked")

    podium("run", "-d", "--init", "--name", "fromimg", img, "sleep", "1000")
    got = inspect(podium, "fromimg")["Config"]["Healthcheck"]
    assert got == {"Test": ["CMD-SHELL", "test -e /etc/motd"], "Interval": 1_000_000_000,
                   "Timeout": 30_000_000_000, "StartPeriod": 0, "Retries": 1}
    wait_for("healthy from the image's check", lambda: health(podium, "fromimg").get("Status") == "healthy")

    podium("create", "--name", "override", "--health-interval", "2s", img, "sleep", "1")
    got = inspect(podium, "override")["Config"]["Healthcheck"]
    assert got["Test"] == hc["Test"] and got["Interval"] == 2_000_000_000

    cid = podium("run", "-d", "--init", "--name", "nocheck", "--no-healthcheck", img,
                 "sleep", "1000").stdout.strip()
    info = inspect(podium, "nocheck")
    assert info["Config"]["Healthcheck"] is None and "Health" not in info["State"]
    assert checker_pid(podium, cid) is None and not processes_of(cid)
    r = podium("healthcheck", "run", "nocheck", check=False)
    assert r.returncode == 125 and "has no defined healthcheck" in r.stderr

    podium("create", "--name", "none", "--health-cmd", "NONE", img, "sleep", "1")
    assert inspect(podium, "none")["Config"]["Healthcheck"] is None

