"""Volumes on real containers: the volume commands, persistence, copy-up, and tmpfs volumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Podium


def vinspect(podium: Podium, name: str) -> dict[str, Any]:
    return json.loads(podium("volume", "inspect", name).stdout)[0]


def mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def test_create_ls_inspect_exists_rm(podium: Podium, image: str) -> None:
    assert podium("volume", "create", "--label", "app=web", "--label", "tier=db", "data").stdout == "data\n"
    anon = podium("volume", "create").stdout.strip()
    assert len(anon) == 64
    v = vinspect(podium, "data")
    assert v["Name"] == "data" and v["Driver"] == "local" and v["Scope"] == "local"
    assert v["Labels"] == {"app": "web", "tier": "db"} and v["Options"] == {} and v["MountCount"] == 0
    assert v["Mountpoint"] == str(podium.root / "volumes" / "data" / "_data")
    assert Path(v["Mountpoint"]).is_dir() and v["CreatedAt"].startswith("20")

    r = podium("volume", "create", "data", check=False)
    assert r.returncode == 125 and "already exists" in r.stderr
    assert podium("volume", "create", "--ignore", "data").stdout == "data\n"

    table = podium("volume", "ls").stdout.splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(line.split()[1] for line in table[1:]) == sorted(["data", anon])
    assert podium("volume", "ls", "-q", "--filter", "label=app=web").stdout == "data\n"
    assert podium("volume", "ls", "-q", "--filter", "label=app=db").stdout == ""
    assert podium("volume", "ls", "-q", "--filter", "label!=app").stdout == anon + "\n"
    assert podium("volume", "ls", "-q", "--filter", "name=^dat").stdout == "data\n"  # "t" is not hex: an anonymous id never matches
    assert podium("volume", "ls", "--format", "{{.Name}}:{{.Driver}}", "-f", "name=data").stdout == "data:local\n"
    rows = json.loads(podium("volume", "ls", "--format", "json").stdout)
    assert {r["Name"] for r in rows} == {"data", anon} and all("Mountpoint" in r for r in rows)
    assert podium("volume", "inspect", "--format", "{{.Labels.app}}", "data").stdout == "web\n"
    r = podium("volume", "ls", "--filter", "color=red", check=False)
    assert r.returncode == 125 and "invalid filter" in r.stderr

    assert podium("volume", "exists", "data", check=False).returncode == 0
    assert podium("volume", "exists", "nope", check=False).returncode == 1

    r = podium("volume", "inspect", "nope", check=False)
    assert r.returncode == 125 and "no such volume" in r.stderr
    assert podium("volume", "rm", "data", anon).stdout == f"data\n{anon}\n"
    assert not (podium.root / "volumes" / "data").exists()
    r = podium("volume", "rm", "data", check=False)
    assert r.returncode == 1 and "no such volume" in r.stderr


def test_invalid_names_and_options_are_one_line_errors(podium: Podium, image: str) -> None:
    for args, text in ((["volume", "create", "a/b"], "invalid volume name"),
                       (["volume", "create", "-x"], ""),
                       (["volume", "create", "..dots"], "invalid volume name"),
                       (["volume", "create", "--driver", "nfs", "v"], "not supported"),
                       (["volume", "create", "-o", "size=1g", "v"], "invalid volume option 'size'"),
                       (["volume", "create", "-o", "type=ext4", "v"], "needs device="),
                       (["volume", "create", "-o", "type=tmpfs", "-o", "device=-oops", "v"], "must not start"),
                       (["run", "--rm", "-v", "a/b:/data", image, "true"], "invalid volume name")):
        r = podium(*args, check=False)
        assert r.returncode == 125, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and text in r.stderr and "Traceback" not in r.stderr
    assert podium("volume", "ls", "-q").stdout == ""


def test_named_volume_survives_container_removal(podium: Podium, image: str) -> None:
    podium("run", "--name", "writer", "-v", "keep:/data", image, "sh", "-c", "echo persisted > /data/f")
    podium("rm", "-v", "writer")  # -v removes anonymous volumes only
    assert podium("volume", "exists", "keep", check=False).returncode == 0
    out = podium("run", "--rm", "-v", "keep:/data", image, "cat", "/data/f").stdout
    assert out == "persisted\n"
    assert (podium.root / "volumes" / "keep" / "_data" / "f").read_text() == "persisted\n"


def test_image_content_is_copied_into_a_new_volume_once(podium: Podium, image: str) -> None:
    out = podium("run", "--rm", "-v", "site:/www", image, "sh", "-c", "cat /www/index.html; echo new > /www/n")
    assert out.stdout == "hello from podium\n"
    data = Path(vinspect(podium, "site")["Mountpoint"])
    assert (data / "index.html").read_text() == "hello from podium\n"
    # a volume that is not empty is left as it is
    (data / "index.html").write_text("changed\n")
    out = podium("run", "--rm", "-v", "site:/www", image, "cat", "/www/index.html", "/www/n")
    assert out.stdout == "changed\nnew\n"
    # an empty volume created beforehand is filled too
    podium("volume", "create", "pre")
    out = podium("run", "--rm", "--mount", "type=volume,source=pre,target=/etc", image, "cat", "/etc/motd")
    assert out.stdout == "podium test image\n"


def test_rm_in_use_and_force(podium: Podium, image: str) -> None:
    cid = podium("run", "-d", "--name", "user", "-v", "busy:/data", image, "sleep", "1000").stdout.strip()
    podium("create", "--name", "idle", "-v", "busy:/data", image, "true")
    r = podium("volume", "rm", "busy", check=False)
    assert r.returncode == 2 and "is being used" in r.stderr and cid in r.stderr
    assert podium("ps", "-aq").stdout.count("\n") == 2
    r = podium("volume", "rm", "-f", "-t", "0", "busy")
    assert r.stdout == "busy\n"
    assert podium("ps", "-aq").stdout == "", "rm -f removed the containers using the volume"
    assert podium("volume", "exists", "busy", check=False).returncode == 1


def test_prune_removes_only_unused(podium: Podium, image: str) -> None:
    podium("volume", "create", "--label", "keep=no", "unused1")
    podium("volume", "create", "unused2")
    podium("create", "--name", "holder", "-v", "held:/data", image, "true")  # stopped, still a user
    assert podium("volume", "ls", "-q", "--filter", "dangling=true").stdout == "unused1\nunused2\n"
    assert podium("volume", "ls", "-q", "--filter", "dangling=false").stdout == "held\n"
    assert podium("volume", "prune", "-f", "--filter", "label=keep=no").stdout == "unused1\n"
    r = podium("volume", "prune", input="n\n")
    assert r.returncode == 0 and "unused2" in r.stdout and podium("volume", "exists", "unused2",
                                                                   check=False).returncode == 0
    assert podium("volume", "prune", "-f").stdout == "unused2\n"
    assert podium("volume", "ls", "-q").stdout == "held\n"
    podium("rm", "holder")
    assert podium("volume", "prune", "-f").stdout == "held\n"


def test_tmpfs_volume_is_mounted_while_used(podium: Podium, image: str) -> None:
    podium("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,mode=0777", "scratch")
    v = vinspect(podium, "scratch")
    assert v["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=2m,mode=0777"}
    data = v["Mountpoint"]
    assert not mounted(data)

    podium("run", "-d", "--init", "--name", "t1", "-v", "scratch:/data", image, "sleep", "1000")
    podium("run", "-d", "--init", "--name", "t2", "-v", "scratch:/data", image, "sleep", "1000")
    line = podium("exec", "t1", "grep", " /data ", "/proc/mounts").stdout.split()
    assert line[2] == "tmpfs" and "size=2048k" in line[3]
    podium("exec", "t1", "sh", "-c", "echo shared > /data/f")
    assert podium("exec", "t2", "cat", "/data/f").stdout == "shared\n"
    assert mounted(data) and vinspect(podium, "scratch")["MountCount"] == 2

    podium("stop", "t1")
    assert mounted(data), "still used by t2"
    assert vinspect(podium, "scratch")["MountCount"] == 1
    podium("stop", "t2")
    assert not mounted(data), "unmounted after the last user"
    assert vinspect(podium, "scratch")["MountCount"] == 0

    podium("start", "t1")
    assert mounted(data)
    assert podium("exec", "t1", "ls", "/data").stdout == "", "a tmpfs starts empty"
    podium("rm", "-f", "t1", "t2")
    assert not mounted(data)
    assert podium("volume", "rm", "scratch").stdout == "scratch\n"


def test_bad_mount_options_fail_the_start_cleanly(podium: Podium, image: str) -> None:
    podium("volume", "create", "-o", "type=tmpfs", "-o", "o=nosuchoption=1", "broken")
    r = podium("run", "-d", "--name", "b", "-v", "broken:/data", image, "sleep", "1000", check=False)
    assert r.returncode == 125 and "volume broken: cannot mount" in r.stderr
    assert not mounted(vinspect(podium, "broken")["Mountpoint"])
    podium("rm", "-f", "b")
    podium("volume", "rm", "broken")
