"""The run/create flags and container commands of the engine issue, each on a real container."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.conftest import PODIUM, Podium


def run(podium: Podium, *args: str) -> str:
    r = podium("run", "--rm", *args, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_env_workdir_user_hostname(podium: Podium, image: str, tmp_path: Path) -> None:
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nFROM_FILE=yes\nOVERRIDE=file\n")
    out = run(podium, "-e", "A=1", "--env-file", str(envfile), "-e", "OVERRIDE=flag", "-w", "/tmp",
              "-u", "www", "--hostname", "box1", image, "sh", "-c",
              'echo $A $FROM_FILE $OVERRIDE; pwd; id -u; id -g; hostname; cat /etc/hostname')
    assert out.split("\n")[:6] == ["1 yes flag", "/tmp", "33", "33", "box1", "box1"]


def test_entrypoint_forms(podium: Podium, image: str) -> None:
    assert run(podium, "--entrypoint", "echo", image, "a", "b") == "a b\n"
    assert run(podium, "--entrypoint", '["sh", "-c", "echo json"]', image) == "json\n"


def test_bind_mounts_ro_rw_and_tmpfs(podium: Podium, image: str, tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "in.txt").write_text("from host\n")
    out = run(podium, "-v", f"{src}:/data", "--tmpfs", "/scratch:size=1m", image, "sh", "-c",
              "cat /data/in.txt; echo written > /data/out.txt; grep /scratch /proc/mounts | cut -d' ' -f3")
    assert out == "from host\ntmpfs\n"
    assert (src / "out.txt").read_text() == "written\n"
    r = podium("run", "--rm", "-v", f"{src}:/data:ro", image, "sh", "-c", "echo x > /data/no", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    r = podium("run", "--rm", "--read-only", image, "touch", "/x", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr


def test_capabilities_and_privileged(podium: Podium, image: str) -> None:
    default = int(run(podium, image, "sh", "-c", "grep CapEff /proc/self/status | cut -f2").strip(), 16)
    dropped = int(run(podium, "--cap-drop", "CHOWN", image, "sh", "-c",
                      "grep CapEff /proc/self/status | cut -f2").strip(), 16)
    added = int(run(podium, "--cap-add", "NET_ADMIN", image, "sh", "-c",
                    "grep CapEff /proc/self/status | cut -f2").strip(), 16)
    assert default & 1 and not dropped & 1          # CAP_CHOWN is bit 0
    assert added & (1 << 12) and not default & (1 << 12)   # CAP_NET_ADMIN is bit 12
    r = podium("run", "--rm", image, "chown", "1:1", "/tmp", check=False)
    assert r.returncode == 0
    r = podium("run", "--rm", "--cap-drop", "CHOWN", image, "chown", "1:1", "/tmp", check=False)
    assert r.returncode != 0
    priv = run(podium, "--privileged", image, "sh", "-c", "grep Seccomp: /proc/self/status | cut -f2")
    assert priv.strip() == "0"
    assert run(podium, image, "sh", "-c", "grep Seccomp: /proc/self/status | cut -f2").strip() == "2"


def test_resource_limits(podium: Podium, image: str) -> None:
    cg = "/sys/fs/cgroup"
    if os.path.exists(f"{cg}/cgroup.controllers"):
        script = f"cat {cg}/memory.max {cg}/pids.max {cg}/cpu.max"
        out = run(podium, "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", image, "sh", "-c", script)
        assert out.split() == ["67108864", "50", "50000", "100000"]
    else:
        script = (f"cat {cg}/memory/memory.limit_in_bytes {cg}/pids/pids.max "
                  f"{cg}/cpu/cpu.cfs_quota_us {cg}/cpu/cpu.cfs_period_us")
        out = run(podium, "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", image, "sh", "-c", script)
        assert out.split() == ["67108864", "50", "50000", "100000"]
    insp = json.loads(podium("inspect", "--type", "image", image).stdout)
    assert insp[0]["Config"]["Cmd"] == ["sh"]


def test_interactive_stdin(podium: Podium, image: str) -> None:
    r = podium("run", "--rm", "-i", image, "sh", "-c", "tr a-z A-Z", input="hello stdin\n")
    assert r.stdout == "HELLO STDIN\n"
    r = podium("run", "--rm", image, "sh", "-c", "cat; echo done", input="ignored\n")
    assert r.stdout == "done\n"


def test_logs_options(podium: Podium, image: str) -> None:
    podium("run", "--name", "talker", image, "sh", "-c",
           "for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; printf partial")
    assert podium("logs", "talker").stdout == "line1\nline2\nline3\nline4\nline5\npartial"
    assert podium("logs", "talker").stderr == "err\n"
    assert podium("logs", "--tail", "2", "talker").stdout == "partial"
    tail3 = podium("logs", "--tail", "3", "talker")
    assert tail3.stdout == "line5\npartial" and tail3.stderr == "err\n"
    ts = podium("logs", "-t", "talker").stdout.splitlines()[0]
    assert ts.endswith(" line1") and ts[:4].isdigit() and "T" in ts.split()[0]
    assert podium("logs", "--since", "1h", "talker").stdout.startswith("line1")
    assert podium("logs", "--since", str(int(time.time()) + 3600), "talker").stdout == ""


def test_logs_follow(podium: Podium, image: str) -> None:
    podium("run", "-d", "--name", "ticker", image, "sh", "-c",
           "for i in 1 2 3; do echo tick$i; sleep 0.3; done")
    out = podium("logs", "-f", "ticker", timeout=30).stdout
    assert out == "tick1\ntick2\ntick3\n"


def test_exec_options(podium: Podium, image: str) -> None:
    podium("run", "-d", "--name", "box", image, "sleep", "60")
    r = podium("exec", "-w", "/etc", "-u", "www", "-e", "Z=9", "box", "sh", "-c", "pwd; id -u; echo $Z")
    assert r.stdout == "/etc\n33\n9\n"
    r = podium("exec", "-i", "box", "sh", "-c", "cat", input="piped\n")
    assert r.stdout == "piped\n"
    r = podium("exec", "box", "nosuch", check=False)
    assert r.returncode == 127
    top = podium("top", "box").stdout.splitlines()
    assert top[0].split()[:3] == ["USER", "PID", "PPID"] and any("sleep 60" in ln for ln in top[1:])
    podium("kill", "-s", "TERM", "box")  # sleep as PID 1 ignores TERM: still running
    time.sleep(0.3)
    assert podium("inspect", "-f", "{{.State.Running}}", "box").stdout.strip() == "true"
    podium("kill", "box")
    assert podium("wait", "box").stdout.strip() == "137"


def test_cp_both_ways(podium: Podium, image: str, tmp_path: Path) -> None:
    podium("create", "--name", "cpbox", image, "true")
    podium("cp", "cpbox:/etc/motd", str(tmp_path / "motd"))
    assert (tmp_path / "motd").read_text() == "podium test image\n"
    (tmp_path / "up.txt").write_text("uploaded\n")
    podium("cp", str(tmp_path / "up.txt"), "cpbox:/tmp/")
    podium("run", "-d", "--name", "cprun", image, "sleep", "30")
    podium("cp", str(tmp_path / "up.txt"), "cprun:/tmp/up.txt")
    assert podium("exec", "cprun", "cat", "/tmp/up.txt").stdout == "uploaded\n"
    podium("start", "-a", "cpbox")
    podium("cp", "cpbox:/tmp/up.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "uploaded\n"
    r = podium("cp", "cprun:/nonexistent", str(tmp_path), check=False)
    assert r.returncode == 125


def test_restart_always_and_manual_stop(podium: Podium, image: str) -> None:
    podium("run", "-d", "--name", "phoenix", "--restart", "always", image, "sh", "-c", "sleep 0.2")
    deadline = time.time() + 20
    count = 0
    while time.time() < deadline and count < 2:
        count = int(podium("inspect", "-f", "{{.RestartCount}}", "phoenix").stdout)
        time.sleep(0.2)
    assert count >= 2
    podium("stop", "phoenix")
    time.sleep(1.0)
    status = podium("inspect", "-f", "{{.State.Status}}", "phoenix").stdout.strip()
    assert status == "exited"
    podium("restart", "phoenix")
    assert podium("inspect", "-f", "{{.State.Status}}", "phoenix").stdout.strip() == "running"


def test_stop_signal_and_timeout(podium: Podium, image: str) -> None:
    podium("run", "-d", "--name", "usr1", "--stop-signal", "USR1", "--stop-timeout", "20", image,
           "sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.1; done")
    t0 = time.monotonic()
    podium("stop", "usr1")
    assert time.monotonic() - t0 < 10
    assert podium("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}}", "usr1").stdout.split() == ["42", "USR1"]


def test_ps_filters_and_formats(podium: Podium, image: str) -> None:
    podium("run", "-d", "--name", "alpha", "-l", "tier=web", image, "sleep", "30")
    podium("create", "--name", "beta", "-l", "tier=db", image, "true")
    assert podium("ps", "--format", "{{.Names}}").stdout.split() == ["alpha"]
    assert sorted(podium("ps", "-a", "--format", "{{.Names}}").stdout.split()) == ["alpha", "beta"]
    assert podium("ps", "-a", "--filter", "label=tier=db", "--format", "{{.Names}}").stdout.split() == ["beta"]
    assert podium("ps", "-a", "--filter", "status=created", "-q").stdout.strip() != ""
    assert podium("ps", "-a", "--filter", "name=^alp", "--format", "{{.Names}}").stdout.split() == ["alpha"]
    rows = json.loads(podium("ps", "-a", "--format", "json").stdout)
    by = {r["Names"][0]: r for r in rows}
    assert by["alpha"]["State"] == "running" and by["alpha"]["Labels"] == {"tier": "web"}
    assert by["beta"]["State"] == "created" and by["beta"]["Command"] == ["true"]
    table = podium("ps", "--format", "table {{.ID}}\\t{{.Names}}").stdout.splitlines()
    assert table[0].split() == ["ID", "NAMES"] and table[1].split()[1] == "alpha"
    insp = json.loads(podium("inspect", "alpha").stdout)[0]
    assert insp["State"]["Status"] == "running" and insp["State"]["Pid"] > 0
    assert insp["Config"]["Labels"] == {"tier": "web"} and insp["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert insp["Name"] == "alpha" and insp["Config"]["Cmd"] == ["sleep", "30"]
    assert podium("port", "alpha").stdout == ""


def test_anonymous_volume_and_rm_v(podium: Podium, image: str) -> None:
    podium("run", "--name", "vol", "-v", "/cache", image, "sh", "-c", "echo kept > /cache/f")
    insp = json.loads(podium("inspect", "vol").stdout)[0]
    [m] = [m for m in insp["Mounts"] if m["Destination"] == "/cache"]
    assert m["Type"] == "volume" and Path(m["Source"], "f").read_text() == "kept\n"
    podium("rm", "-v", "vol")
    assert not Path(m["Source"]).exists()


def test_rmi_refuses_in_use_unless_forced(podium: Podium, image: str) -> None:
    podium("create", "--name", "user1", image, "true")
    r = podium("rmi", image, check=False)
    assert r.returncode != 0 and "user1" in r.stderr
    podium("rmi", "-f", image)
    assert podium("ps", "-aq").stdout.strip() == ""
    assert podium("images", "-q").stdout.strip() == ""


def test_start_attach_and_rename(podium: Podium, image: str) -> None:
    podium("create", "--name", "once", image, "sh", "-c", "echo again; exit 2")
    r = podium("start", "-a", "once", check=False)
    assert (r.returncode, r.stdout) == (2, "again\n")
    podium("rename", "once", "twice")
    assert podium("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.startswith("twice Exited (2)")


def test_run_detached_returns_while_running(podium: Podium, image: str) -> None:
    t0 = time.monotonic()
    subprocess.run([*PODIUM, "run", "-d", image, "sleep", "5"], env=podium.env, check=True,
                   capture_output=True, timeout=30)
    assert time.monotonic() - t0 < 4


def test_init_under_a_tmpfs_on_run(podium: Podium, image: str) -> None:
    """--init's binary lives at /run/podium-init: a tmpfs on /run must not hide it."""
    out = podium("run", "--rm", "--init", "--tmpfs", "/run", image, "sh", "-c",
                 "cat /proc/1/comm; ls /run").stdout
    assert out == "podium-init\npodium-init\n"


def test_hosts_dns_groups_and_security_options(podium: Podium, image: str) -> None:
    out = podium("run", "--rm", "--add-host", "db.internal:10.1.2.3", "--dns", "10.9.9.9",
                 "--dns-search", "corp.example", "--dns-option", "ndots:3", "--group-add", "1234",
                 "--security-opt", "no-new-privileges", "--security-opt", "label=disable",
                 "--memory-reservation", "64m", image, "sh", "-c",
                 "grep db.internal /etc/hosts; cat /etc/resolv.conf; id -G; grep NoNewPrivs /proc/self/status"
                 ).stdout
    assert "10.1.2.3\tdb.internal" in out or "10.1.2.3 db.internal" in out, out
    assert "nameserver 10.9.9.9" in out and "search corp.example" in out and "options ndots:3" in out, out
    assert "1234" in out.splitlines()[-2].split(), out
    assert out.splitlines()[-1].split() == ["NoNewPrivs:", "1"], out
    r = podium("run", "--rm", "--security-opt", "apparmor=docker-default", image, "true", check=False)
    assert r.returncode == 125 and "unsupported security option 'apparmor=docker-default'" in r.stderr
