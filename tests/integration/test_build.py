"""podium build on a real storage root: RUN steps in real containers (runc + conmon),
multi-stage, the layer cache (hits run nothing, a changed input misses), ARG and
--build-arg, .containerignore, USER and WORKDIR seen by `podium run`, bad input
that fails clearly and stores nothing, and a built image that Podman runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Podium, need
from tests.integration.test_interop import Podman, podman  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _context(tmp: Path, containerfile: str, files: dict[str, str | bytes] | None = None) -> Path:
    ctx = tmp / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Containerfile").write_text(containerfile)
    for name, data in (files or {}).items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return ctx


def _creates(p: Podium) -> int:
    """Containers created in this root so far, from the engine's event log."""
    eng = p.engine()
    try:
        return len(eng.events.list(filters=["type=container", "event=create"]))
    finally:
        eng.close()


def _state(p: Podium) -> tuple[list[str], list[str], list[str]]:
    images = sorted(p("images", "-q", "--no-trunc").stdout.split())
    ctrs = sorted(p("ps", "-aq", "--no-trunc").stdout.split())
    tmp = sorted(os.listdir(p.root / "tmp")) if (p.root / "tmp").exists() else []
    return images, ctrs, tmp


def test_multi_stage_user_workdir_at_run_time(podium: Podium, image: str, tmp_path: Path) -> None:
    ctx = _context(tmp_path, f"""\
FROM {image} AS builder
RUN mkdir -p /out && echo "made in $(hostname -s 2>/dev/null || echo builder)" > /out/made \\
 && cp /bin/busybox /out/busybox
FROM builder AS unused
RUN exit 1
FROM scratch
COPY --from=builder /out/busybox /bin/busybox
COPY --from=0 /etc/passwd /etc/group /etc/
COPY --from=builder /out/made /srv/
COPY --chown=www:www --chmod=0640 note.txt /srv/app/
USER www
WORKDIR /home/www/work
ENTRYPOINT ["/bin/busybox"]
CMD ["sh", "-c", "id -u; id -g; pwd; cat /srv/made; ls -ln /srv/app/note.txt; touch mine && ls -ln mine"]
""", {"note.txt": "hello\n"})
    out = podium("build", "-t", "multi", str(ctx))
    assert "RUN exit 1" not in out.stdout            # a stage the target does not need
    lines = podium("run", "--rm", "--network", "none", "multi").stdout.splitlines()
    assert lines[:3] == ["33", "33", "/home/www/work"]
    assert lines[3].startswith("made in")
    assert lines[4].split()[0] == "-rw-r-----" and lines[4].split()[2:4] == ["33", "33"]
    assert lines[5].split()[2:4] == ["33", "33"]      # WORKDIR made for USER www: writable
    # --target stops at a stage; its image has the builder's files and user
    podium("build", "-t", "builderonly", "--target", "builder", str(ctx))
    r = podium("run", "--rm", "--network", "none", "builderonly", "sh", "-c", "id -u; ls /out")
    assert r.stdout.split() == ["0", "busybox", "made"]


def test_cache_hit_runs_nothing_and_changed_input_misses(podium: Podium, image: str,
                                                         tmp_path: Path) -> None:
    ctx = _context(tmp_path, f"""\
FROM {image}
COPY app.txt /app.txt
RUN cat /proc/sys/kernel/random/uuid > /uuid && cp /app.txt /copied
COPY other.txt /other.txt
RUN cat /proc/sys/kernel/random/uuid > /uuid2
CMD ["sh", "-c", "cat /uuid /uuid2 /copied /other.txt"]
""", {"app.txt": "one\n", "other.txt": "x\n"})
    first = podium("build", "-q", "-t", "cached", str(ctx)).stdout.strip()
    out1 = podium("run", "--rm", "--network", "none", "cached").stdout.split()
    assert out1[2:] == ["one", "x"]

    before = _creates(podium)
    again = podium("build", "-t", "cached", str(ctx))
    assert again.stdout.strip().splitlines()[-1] == first   # the same image
    assert again.stdout.count("Using cache") == 5
    assert _creates(podium) == before                # no RUN container this time
    assert podium("run", "--rm", "--network", "none", "cached").stdout.split() == out1   # same uuids: not re-run

    (ctx / "other.txt").write_text("y\n")            # only the second COPY's input changes
    before = _creates(podium)
    third = podium("build", "-q", "-t", "cached", str(ctx)).stdout.strip()
    assert third != first
    assert _creates(podium) == before + 1            # exactly one RUN ran: the one after it
    out3 = podium("run", "--rm", "--network", "none", "cached").stdout.split()
    assert out3[0] == out1[0] and out3[1] != out1[1] and out3[2:] == ["one", "y"]

    os.chmod(ctx / "app.txt", 0o600)                 # a mode change is a change too
    before = _creates(podium)
    podium("build", "-q", "-t", "cached", str(ctx))
    assert _creates(podium) == before + 2            # both RUNs again

    podium("build", "-q", "--no-cache", "-t", "cached", str(ctx))
    assert _creates(podium) == before + 4


def test_build_args_and_arg_scope(podium: Podium, image: str, tmp_path: Path) -> None:
    ctx = _context(tmp_path, """\
ARG BASE=nosuchimage
ARG TAG=unused
FROM $BASE
ARG TAG
ARG GREETING="hello world"
ARG EMPTY
ENV FROM_ARG=${GREETING} TAG_SEEN=${TAG:-none}
RUN echo "run saw [$GREETING] [$TAG] [${EMPTY:-unset}]" > /seen
LABEL greeting="$GREETING"
CMD ["sh", "-c", "cat /seen; echo env $FROM_ARG $TAG_SEEN; echo [$GREETING]"]
""")
    podium("build", "-t", "args", "--build-arg", f"BASE={image}", "--build-arg", "TAG=v2",
           "--build-arg", "GREETING=hi there", str(ctx))
    lines = podium("run", "--rm", "--network", "none", "args").stdout.splitlines()
    assert lines == ["run saw [hi there] [v2] [unset]", "env hi there v2", "[]"]  # ARG not kept
    labels = json.loads(podium("image", "inspect", "args").stdout)[0]["Config"]["Labels"]
    assert labels["greeting"] == "hi there"
    podium("build", "-t", "args2", "--build-arg", f"BASE={image}", str(ctx))
    assert podium("run", "--rm", "--network", "none", "args2").stdout.splitlines()[0] == \
        "run saw [hello world] [unused] [unset]"
    r = podium("build", "-t", "args3", "--build-arg", f"BASE={image}", "--build-arg", "NOPE=1",
               str(ctx))
    assert "not consumed: NOPE" in r.stdout


def test_containerignore(podium: Podium, image: str, tmp_path: Path) -> None:
    ctx = _context(tmp_path, f"FROM {image}\nCOPY . /ctx/\nADD data.tar.gz /unpacked/\n", {
        "keep.txt": "k", "debug.log": "l", "logs/a.log": "a", "logs/important.log": "i",
        "node_modules/m/index.js": "m", "src/deep/x.tmp": "t", "src/deep/y.py": "y",
        ".containerignore": "*.log\nlogs\n!logs/important.log\nnode_modules\n**/*.tmp\n",
    })
    src = tmp_path / "tarsrc"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("in tar")
    with tarfile.open(ctx / "data.tar.gz", "w:gz") as tf:
        tf.add(src / "d", "d")
    podium("build", "-t", "ignored", str(ctx))
    found = podium("run", "--rm", "--network", "none", "ignored", "find", "/ctx", "/unpacked", "-type", "f").stdout.split()
    assert sorted(found) == ["/ctx/.containerignore", "/ctx/Containerfile", "/ctx/data.tar.gz",
                             "/ctx/keep.txt", "/ctx/logs/important.log", "/ctx/src/deep/y.py",
                             "/unpacked/d/f"]
    (ctx / "Containerfile").write_text(f"FROM {image}\nCOPY debug.log /\n")
    r = podium("build", "-t", "ignored2", str(ctx), check=False)
    assert r.returncode == 125 and "excluded by .containerignore" in r.stderr


@pytest.mark.parametrize("containerfile, files, message", [
    ("FROM {image}\nRUN true\nCOPPY a /b\n", {}, "Containerfile:3: unknown instruction: COPPY"),
    ("FROM {image}\nCOPY ../secret /\n", {}, "Containerfile:2: COPY source '../secret' is "
                                             "outside the build context"),
    ("FROM {image}\nCOPY link/passwd /\n", {}, "Containerfile:2: COPY source 'link/passwd' is "
                                               "outside the build context: link is a symlink to /etc"),
    ("FROM {image}\nRUN touch /made\nRUN exit 7\n", {}, "Containerfile:3: RUN exit 7: the command "
                                                        "exited with code 7"),
    ("FROM localhost/nosuchimage\n", {}, "Containerfile:1: FROM localhost/nosuchimage"),
    ("FROM {image}\nADD https://example.com/x /\n", {}, "remote sources are not supported"),
])
def test_bad_input_fails_clearly_and_stores_nothing(podium: Podium, image: str, tmp_path: Path,
                                                    containerfile: str, files: dict[str, str],
                                                    message: str) -> None:
    (tmp_path / "secret").write_text("do not copy")
    ctx = _context(tmp_path, containerfile.format(image=image), files)
    os.symlink("/etc", ctx / "link")
    before = _state(podium)
    r = podium("build", "-t", "broken", str(ctx), check=False)
    assert r.returncode == 125
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and message in err[0], r.stderr
    assert "Traceback" not in r.stderr
    assert _state(podium) == before
    assert "broken" not in podium("images").stdout


def test_python_api_and_example(podium: Podium, tmp_path: Path) -> None:
    """The engine API compose and kube call; and examples/busybox/build.sh."""
    need(os.path.exists("/bin/busybox"), "busybox-static is not installed")
    env = {**podium.env, "PODIUM": f"{sys.executable} -m podium"}
    r = subprocess.run([str(REPO / "examples" / "busybox" / "build.sh"), "localhost/busybox"],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert podium("run", "--rm", "--network", "none", "--user", "www", "localhost/busybox", "id", "-un").stdout == "www\n"

    from podium.engine.build import build

    ctx = _context(tmp_path, "FROM localhost/busybox\nRUN echo api > /api\nCMD [\"cat\", \"/api\"]\n")
    lines: list[str] = []
    eng = podium.engine()
    try:
        iid = build(eng, str(ctx), tags=["viaapi"], labels={"made.by": "api"},
                    progress=lines.append)
    finally:
        eng.close()
    assert len(iid) == 64 and any(ln.startswith("STEP 2/3: RUN") for ln in lines)
    assert podium("run", "--rm", "--network", "none", "viaapi").stdout == "api\n"
    eng = podium.engine()
    try:
        built = eng.events.list(filters=["type=image", "event=build"])
    finally:
        eng.close()
    assert [e["Actor"]["ID"] for e in built][-1] == "sha256:" + iid
    assert len(built) == 2                           # the example's build and this one


@pytest.mark.podman
def test_built_image_runs_under_podman(podium: Podium, podman: Podman,  # noqa: F811
                                       tmp_path: Path) -> None:
    need(os.path.exists("/bin/busybox"), "busybox-static is not installed")
    ctx = _context(tmp_path, """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN rm /bin/ed && mkdir -p /data && echo built-by-podium > /data/msg
WORKDIR /data
CMD ["cat", "msg"]
""", {"busybox": Path("/bin/busybox").read_bytes()})
    os.chmod(ctx / "busybox", 0o755)
    podium("build", "-t", "localhost/frompodium", str(ctx))
    archive = podman.base / "built.tar"
    podium("save", "-o", str(archive), "localhost/frompodium")
    podman("load", "-i", str(archive))
    r = podman("run", "--rm", "--network", "none", "localhost/frompodium:latest")
    assert r.stdout == "built-by-podium\n"
    r = podman("run", "--rm", "--network", "none", "localhost/frompodium:latest",
               "sh", "-c", "test -e /bin/ed || echo deleted; test -x /bin/vi && echo vi")
    assert r.stdout.split() == ["deleted", "vi"]


def test_config_instructions(podium: Podium, image: str, tmp_path: Path) -> None:
    """The config-only instructions land in the image config as Docker writes them, SHELL
    changes how RUN runs, ONBUILD triggers run in the child build, HEALTHCHECK is used."""
    ctx = _context(tmp_path, f"""\
FROM {image} AS parent
ONBUILD RUN echo triggered > /onbuild
FROM parent
SHELL ["/bin/sh", "-ec"]
RUN echo "$0 $-" > /shell
ARG WHO=world
RUN <<EOF
echo "script $WHO" > /heredoc
echo line2 >> /heredoc
EOF
COPY <<CONF <<"RAW" /conf/
who=$WHO
CONF
raw=$WHO
RAW
ENV PATH=/opt/bin:$PATH
EXPOSE 80 53/udp 8000-8001
LABEL a=b "c d"="e f"
STOPSIGNAL SIGINT
VOLUME ["/data"]
HEALTHCHECK --interval=2s --timeout=1s --retries=2 CMD test -f /onbuild
ENTRYPOINT ["/bin/sh", "-c"]
""")
    podium("build", "-t", "configured", "--label", "from=cli", str(ctx))
    cfg = json.loads(podium("image", "inspect", "configured").stdout)[0]["Config"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"] and not cfg.get("Cmd")  # base CMD dropped
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert cfg["Labels"] == {"a": "b", "c d": "e f", "from": "cli"}
    assert cfg["StopSignal"] == "SIGINT" and cfg["Volumes"] == {"/data": {}}
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /onbuild"],
                                  "Interval": 2_000_000_000, "Timeout": 1_000_000_000,
                                  "Retries": 2}
    assert cfg["Env"][0].startswith("PATH=/opt/bin:/usr/local/sbin")
    assert not cfg.get("OnBuild")
    r = podium("run", "--rm", "--network", "none", "configured", "cat /onbuild /shell")
    onbuild, shell, flags = r.stdout.split()
    assert (onbuild, shell) == ("triggered", "/bin/sh") and "e" in flags  # RUN ran as sh -ec
    r = podium("run", "--rm", "--network", "none", "configured", "cat /heredoc /conf/CONF /conf/RAW")
    assert r.stdout.splitlines() == ["script world", "line2", "who=world", "raw=$WHO"]
    podium("run", "-d", "--network", "none", "--name", "hc", "configured", "sleep 30")
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = podium("inspect", "-f", "{{.State.Health.Status}}", "hc").stdout.strip()
        if status == "healthy":
            break
        time.sleep(0.5)
    assert status == "healthy"


def test_interrupted_builds_leave_nothing(podium: Podium, image: str, tmp_path: Path) -> None:
    """Ctrl-C mid-RUN removes the RUN container at once; after a SIGKILL the next build
    reaps what the dead one left (its container, its intermediate image row)."""
    import signal

    ctx = _context(tmp_path, f"FROM {image}\nRUN echo started; sleep 60\n")
    before = _state(podium)
    for sig in (signal.SIGINT, signal.SIGKILL):
        proc = subprocess.Popen([sys.executable, "-m", "podium", "build", "--no-cache", "-t", "x",
                                 str(ctx)], env=podium.env, cwd=str(REPO), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "started":
                break
        proc.send_signal(sig)
        assert proc.wait(timeout=60) in (130, -9)
        if sig == signal.SIGINT:
            assert _state(podium) == before
    assert podium("ps", "-aq").stdout.strip()        # the killed build's container is still there
    (ctx / "Containerfile").write_text(f"FROM {image}\nCMD [\"true\"]\n")
    podium("build", "-q", "-t", "after", str(ctx))
    images, ctrs, tmp = _state(podium)
    assert ctrs == [] and tmp == []
    assert len(images) == len(before[0]) + 1         # "after" only: no intermediate row left
