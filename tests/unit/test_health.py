"""Health checks, the pure parts: durations, --health-cmd forms, config merging, state rules, the loop."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from podium.engine import health
from podium.engine.errors import ConfigError
from podium.engine.spec import ContainerSpec

S = health.SECOND


@pytest.mark.parametrize("text, ns", [
    ("30s", 30 * S), ("1m30s", 90 * S), ("500ms", S // 2), ("1.5s", 3 * S // 2), ("0", 0),
    ("2h", 7200 * S), ("1h2m3s", 3723 * S), ("250us", 250_000), ("10ns", 10), (5, 5 * S), (0.5, S // 2),
])
def test_parse_duration(text: str | int | float, ns: int) -> None:
    assert health.parse_duration(text, what="x") == ns


@pytest.mark.parametrize("text", ["30", "", "abc", "1x", "-1s", "s", "1s2", " 1 s", True])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid x"):
        health.parse_duration(text, what="x")


@pytest.mark.parametrize("ns, text", [
    (30 * S, "30s"), (90 * S, "1m30s"), (3 * S // 2, "1.5s"), (S // 2, "500ms"), (3600 * S, "1h0m0s"),
    (0, "0s"),
])
def test_format_duration(ns: int, text: str) -> None:
    assert health.format_duration(ns) == text


@pytest.mark.parametrize("cmd, test", [
    ("test -f /tmp/ok", ["CMD-SHELL", "test -f /tmp/ok"]),
    ("true", ["CMD-SHELL", "true"]),
    ('["test", "-f", "/x"]', ["CMD", "test", "-f", "/x"]),
    ('["true"]', ["CMD-SHELL", "true"]),
    ('["CMD", "true"]', ["CMD", "true"]),
    ('["CMD-SHELL", "exit 1"]', ["CMD-SHELL", "exit 1"]),
    ("CMD-SHELL test -f /x", ["CMD-SHELL", "test -f /x"]),
    ("CMD echo  a b", ["CMD", "echo", "a", "b"]),
    ("cmd-shell true", ["CMD-SHELL", "true"]),
    ("none", ["NONE"]), ("NONE", ["NONE"]), ('["NONE"]', ["NONE"]),
    (["curl", "-f", "http://x"], ["CMD", "curl", "-f", "http://x"]),
    ("[not json", ["CMD-SHELL", "[not json"]),
])
def test_parse_test(cmd: str, test: list[str]) -> None:
    assert health.parse_test(cmd) == test


@pytest.mark.parametrize("cmd", ["", "  ", '["CMD"]', "CMD-SHELL", '[1, 2]', "[]"])
def test_parse_test_rejects(cmd: str) -> None:
    with pytest.raises(ConfigError):
        health.parse_test(cmd)


def test_command_of() -> None:
    assert health.command_of(["CMD-SHELL", "test -f /x"]) == ["/bin/sh", "-c", "test -f /x"]
    assert health.command_of(["CMD", "true", "x"]) == ["true", "x"]


def cfg(health_opts: dict | None, image: dict | None = None) -> dict:
    spec = ContainerSpec("img", health=health_opts)
    return health.config_from_spec(spec, {"Healthcheck": image})


IMAGE_HC = {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 10 * S, "Timeout": 0,
            "Retries": 5, "StartPeriod": 2 * S}


def test_config_defaults_and_none() -> None:
    assert cfg(None) == {"healthcheck": None, "health_on_failure": "none"}
    assert cfg({"interval": "5s"}) == {"healthcheck": None, "health_on_failure": "none"}  # no command
    assert cfg({"cmd": "true"})["healthcheck"] == {
        "Test": ["CMD-SHELL", "true"], "Interval": 30 * S, "Timeout": 30 * S, "StartPeriod": 0, "Retries": 3}


def test_config_flags() -> None:
    got = cfg({"cmd": "true", "interval": "1s", "timeout": "2s", "retries": "2", "start_period": "1m",
               "on_failure": "Restart"})
    assert got == {"healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": S, "Timeout": 2 * S,
                                   "StartPeriod": 60 * S, "Retries": 2},
                   "health_on_failure": "restart"}
    assert cfg({"cmd": "true", "interval": "disable"})["healthcheck"]["Interval"] == 0


def test_config_from_image_with_overrides() -> None:
    got = cfg(None, IMAGE_HC)["healthcheck"]
    assert got == {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 10 * S, "Timeout": 30 * S,
                   "StartPeriod": 2 * S, "Retries": 5}
    got = cfg({"interval": "1s", "retries": 1}, IMAGE_HC)["healthcheck"]
    assert got["Test"] == IMAGE_HC["Test"] and got["Interval"] == S and got["Retries"] == 1
    got = cfg({"cmd": "true"}, IMAGE_HC)["healthcheck"]
    assert got["Test"] == ["CMD-SHELL", "true"] and got["Interval"] == 10 * S
    # an image's sub-second interval is clamped: the checker stays cheap
    assert cfg(None, {"Test": ["CMD", "true"], "Interval": 1000})["healthcheck"]["Interval"] == S
    # Docker's "inherit" and "NONE" forms mean no check
    assert cfg(None, {"Test": []})["healthcheck"] is None
    assert cfg(None, {"Test": ["NONE"]})["healthcheck"] is None


def test_config_disable() -> None:
    assert cfg({"disable": True}, IMAGE_HC)["healthcheck"] is None
    assert cfg({"cmd": "none"}, IMAGE_HC)["healthcheck"] is None
    assert cfg({"disable": True, "cmd": "NONE"}, IMAGE_HC)["healthcheck"] is None
    with pytest.raises(ConfigError, match="conflict"):
        cfg({"disable": True, "cmd": "true"})


@pytest.mark.parametrize("opts, message", [
    ({"cmd": "true", "interval": "500ms"}, "at least 1 second"),
    ({"cmd": "true", "interval": "often"}, "invalid health interval"),
    ({"cmd": "true", "timeout": "0s"}, "at least 1 second"),
    ({"cmd": "true", "retries": "0"}, "greater than 0"),
    ({"cmd": "true", "retries": "many"}, "whole number"),
    ({"cmd": "true", "start_period": "-1s"}, "negative"),
    ({"cmd": "true", "on_failure": "explode"}, "none, kill, restart, stop"),
])
def test_config_rejects(opts: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(opts)


def result(code: int) -> dict:
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": ""}


def test_record_transitions() -> None:
    hc = {"Retries": 2}
    h = health.initial_state()
    assert h == {"Status": "starting", "FailingStreak": 0, "Log": []}
    h = health.record(h, hc, result(1), in_start_period=False)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 1)
    h = health.record(h, hc, result(1), in_start_period=False)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)
    h = health.record(h, hc, result(0), in_start_period=False)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)
    h = health.record(h, hc, result(1), in_start_period=False)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 1)
    for _ in range(5):
        h = health.record(h, hc, result(7), in_start_period=False)
    assert h["Status"] == "unhealthy" and len(h["Log"]) == health.MAX_LOG_ENTRIES
    assert health.initial_state(h)["Log"] == h["Log"]


def test_record_start_period_does_not_count_failures() -> None:
    h = health.record(None, {"Retries": 1}, result(1), in_start_period=True)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 0)
    h = health.record(h, {"Retries": 1}, result(0), in_start_period=True)
    assert h["Status"] == "healthy"


def script(busybox: str | None) -> str:
    return health.checker_script(podium=["/usr/bin/python3", "-m", "podium", "--root", "/r w"],
                                 cid="abc123", exit_file="/run/x/exits/abc123", fifo="/run/x/f",
                                 first_ns=2 * S, interval_ns=S // 2, busybox=busybox)


def test_checker_script_busybox() -> None:
    text = script("/bin/busybox")
    assert "read -t 2 _ <&3" in text and "read -t 0.5 _ <&3" in text and "sleep" not in text
    assert "exec 3<>/run/x/f" in text
    assert "while [ ! -e /run/x/exits/abc123 ]" in text
    assert "/bin/busybox setsid /usr/bin/python3 -m podium --root '/r w' healthcheck run " \
           "--from-checker abc123" in text
    assert f"[ $? -eq {health.CHECKER_DONE} ] && break" in text


def test_checker_script_without_busybox() -> None:
    text = script(None)
    assert "sleep 2;" in text and "sleep 0.5;" in text and "read -t" not in text
    assert " setsid /usr/bin/python3" in text


def test_checker_script_first_check_at_once() -> None:
    text = health.checker_script(podium=["/usr/bin/python3", "-m", "podium"], cid="abc123",
                                 exit_file="/run/x/exits/abc123", fifo="/run/x/f", first_ns=0,
                                 interval_ns=30 * S, busybox="/bin/busybox")
    assert text.startswith("exec 3<>/run/x/f || exit 1; while [ ! -e /run/x/exits/abc123 ]")
    assert text.count("read -t 30 _ <&3") == 1


@pytest.mark.parametrize("busybox", [True, False])
def test_checker_script_parses(busybox: bool) -> None:
    shell, is_bb = health.find_shell()
    if busybox and not is_bb:
        pytest.skip("busybox is not installed")
    argv = [shell, "sh", "-n", "-c", script(shell)] if busybox else ["/bin/sh", "-n", "-c", script(None)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_checker_loop_ends_when_the_exit_file_appears(tmp_path: Path) -> None:
    shell, is_bb = health.find_shell()
    exit_file, marker = tmp_path / "exit", tmp_path / "ran"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    text = health.checker_script(podium=["/bin/sh", "-c", f"echo x >> {marker}", "x"], cid="c1",
                                 exit_file=str(exit_file), fifo=str(fifo), first_ns=S // 10,
                                 interval_ns=S // 10, busybox=shell if is_bb else None)
    text = text.replace(" healthcheck run --from-checker c1", "")
    argv = [shell, "sh", "-c", text] if is_bb else ["/bin/sh", "-c", text]
    proc = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 10
        while (not marker.exists() or len(marker.read_text().split()) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(marker.read_text().split()) >= 2, "the loop ran the check repeatedly"
        exit_file.write_text("0")
        proc.wait(timeout=5)  # ends by itself (raises TimeoutExpired otherwise)
    finally:
        proc.kill()
        proc.wait()


class _Paths:
    def __init__(self, base: Path) -> None:
        self.base = base

    def bundle(self, cid: str) -> Path:
        return self.base / cid


class _Engine:
    def __init__(self, base: Path) -> None:
        self.paths = _Paths(base)


def test_stop_checker_kills_only_the_checker(tmp_path: Path) -> None:
    shell, is_bb = health.find_shell()
    if not is_bb:
        pytest.skip("busybox is not installed")
    cid = "f" * 64
    eng = _Engine(tmp_path)
    (tmp_path / cid).mkdir()
    # an unrelated process named in the pid file (a recycled pid) is left alone
    other = subprocess.Popen([shell, "sh", "-c", "read -t 30 _", "not-a-checker", cid],
                             stdin=subprocess.PIPE, start_new_session=True)
    real = subprocess.Popen([shell, "sh", "-c", "read -t 30 _", health.CHECKER_MARK, cid],
                            stdin=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(0.1)
        for proc, survives in ((other, True), (real, False)):
            st = health._proc_stat(proc.pid)
            assert st is not None
            (tmp_path / cid / health.PID_FILE).write_text(f"{proc.pid} {st[2]}\n")
            assert (health.checker_pid(eng, cid) is None) == survives  # type: ignore[arg-type]
            health.stop_checker(eng, {"id": cid})  # type: ignore[arg-type]
            assert not (tmp_path / cid / health.PID_FILE).exists()
            if survives:
                assert proc.poll() is None
            else:
                assert proc.wait(timeout=5) == -9
        # a pid file with a wrong start time is ignored too
        st = health._proc_stat(other.pid)
        (tmp_path / cid / health.PID_FILE).write_text(f"{other.pid} {st[2] + 1}\n")
        health.stop_checker(eng, {"id": cid})  # type: ignore[arg-type]
        assert other.poll() is None
        health.stop_checker(eng, {"id": cid})  # type: ignore[arg-type]  # idempotent
    finally:
        for p in (other, real):
            p.kill()
            p.wait()
