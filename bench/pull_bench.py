#!/usr/bin/env python3
"""Pull of a 3-layer image from a local registry: podium against ``podman pull``, one run.

Run from the repository root with the project's venv:

    .venv/bin/python bench/pull_bench.py [--runs 10] [--json OUT]

A private docker-registry (tests/registry_server.py) on 127.0.0.1 serves one
image of three gzip layers: the busybox-static root filesystem (~1 MB
compressed), 8 MB of random bytes (incompressible: transfer and hashing
dominate) and 24 MB of text (compressible: decompression and unpacking
dominate). One hyperfine run then times four commands, so that they share
the machine's conditions:

- ``podium pull`` and ``podman pull`` **cold**: each run is preceded (hyperfine
  ``--prepare``) by removing the image, so every layer is fetched, verified and
  unpacked;
- the same two **warm**: the image is present, so only the manifest and config
  are fetched and every layer is skipped.

podium and Podman each get a private storage root (Podman: overlay, else vfs;
runc; a private containers.conf) under one temporary directory that is removed
at the end, with the registry. The markdown table goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.registry_server import Registry, layer_tar, upload_image  # noqa: E402
from tests.rootfs import write_rootfs_tar  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PODIUM = str(VENV_BIN / "podium") if (VENV_BIN / "podium").exists() else str(REPO / ".venv/bin/podium")
CONF = """[containers]
default_ulimits = []
[engine]
runtime = "runc"
events_logger = "file"
"""


def log(msg: str) -> None:
    print(f"[pull-bench] {msg}", file=sys.stderr, flush=True)


def sh(argv: list[str], env: dict[str, str] | None = None) -> str:
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=600)
    if p.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def quote(argv: list[str]) -> str:
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", help="write hyperfine's results and the table here")
    a = ap.parse_args()
    for tool in ("hyperfine", "podman", "/usr/bin/docker-registry"):
        if not shutil.which(tool):
            sys.exit(f"pull_bench: {tool} is not installed")
    base = Path(tempfile.mkdtemp(prefix="pdpb", dir="/tmp"))
    reg = Registry(base=base / "reg")
    podman_root = base / "podman"
    env = {**os.environ, "PODIUM_ROOT": str(base / "root"), "PODIUM_RUNROOT": str(base / "run"),
           "CONTAINERS_CONF": str(base / "containers.conf"),
           "REGISTRY_AUTH_FILE": str(base / "auth.json"),
           "CONTAINERS_REGISTRIES_CONF": str(base / "registries.conf")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # timed runs use compiled modules, as installed
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "engine"),
                    str(REPO / "podium"), str(REPO / "declare")], env=env, capture_output=True)
    (base / "containers.conf").write_text(CONF)
    (base / "registries.conf").write_text("")
    (base / "auth.json").write_text('{"auths": {}}')
    podman = ["podman", "--root", str(podman_root / "r"), "--runroot", str(podman_root / "rr"),
              "--tmpdir", str(podman_root / "t")]
    try:
        reg.start()
        log(f"registry on {reg.host}; making a 3-layer image")
        rootfs = write_rootfs_tar(base / "rootfs.tar").read_bytes()
        rnd = random.Random(7)
        noise = layer_tar({"data/noise.bin": os.urandom(8 << 20)})
        words = [("".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(2, 9))))
                 for _ in range(4000)]
        text = "\n".join(" ".join(rnd.choice(words) for _ in range(12)) for _ in range(330_000))
        texts = layer_tar({"data/text.txt": text.encode()[: 24 << 20]})
        upload_image(reg, "bench/three", "latest", [rootfs, noise, texts], cmd=["sh"])
        ref = f"{reg.host}/bench/three:latest"
        sizes = [len(rootfs), len(noise), len(texts)]
        log("layer sizes (uncompressed): " + ", ".join(f"{s / 1e6:.1f} MB" for s in sizes))

        driver = "overlay"
        try:
            sh(podman + ["--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref], env)
        except RuntimeError:
            driver = "vfs"
            shutil.rmtree(podman_root, ignore_errors=True)
            sh(podman + ["--storage-driver", "vfs", "pull", "-q", "--tls-verify=false", ref], env)
        podman += ["--storage-driver", driver]
        sh([PODIUM, "pull", "-q", "--tls-verify=false", ref], env)

        podium_pull = [PODIUM, "pull", "-q", "--tls-verify=false", ref]
        podman_pull = podman + ["pull", "-q", "--tls-verify=false", ref]
        podium_rmi = quote([PODIUM, "rmi", ref]) + " >/dev/null 2>&1 || true"
        podman_rmi = quote(podman + ["rmi", "-f", ref]) + " >/dev/null 2>&1 || true"
        out = base / "hyperfine.json"
        cmds = [("podium pull (cold)", podium_pull, podium_rmi),
                ("podman pull (cold)", podman_pull, podman_rmi),
                ("podium pull (warm)", podium_pull, "true"),
                ("podman pull (warm)", podman_pull, "true")]
        argv = ["hyperfine", "-N", "--warmup", "1", "--runs", str(a.runs), "--export-json", str(out)]
        for name, cmd, prep in cmds:
            argv += ["--prepare", prep]
        for name, cmd, prep in cmds:
            argv += ["-n", name, quote(cmd)]
        log("hyperfine: " + ", ".join(c[0] for c in cmds))
        # the prepare commands use the shell; -N applies to the timed commands only
        argv = [x if x != "-N" else "--shell=none" for x in argv]
        argv = _prepare_via_shell(argv)
        subprocess.run(argv, env=env, check=True, stdout=sys.stderr)
        results = json.loads(out.read_text())["results"]
        rows = ["| command | mean | σ | min | max |", "| --- | --- | --- | --- | --- |"]
        for r in results:
            rows.append(f"| {r['command']} | {r['mean'] * 1000:.0f} ms | {r['stddev'] * 1000:.0f} ms "
                        f"| {r['min'] * 1000:.0f} ms | {r['max'] * 1000:.0f} ms |")
        by = {r["command"]: r["mean"] for r in results}
        ratio_cold = by["podium pull (cold)"] / by["podman pull (cold)"]
        ratio_warm = by["podium pull (warm)"] / by["podman pull (warm)"]
        table = "\n".join(rows) + (
            f"\n\nImage: 3 gzip layers, {sum(sizes) / 1e6:.1f} MB uncompressed; Podman storage "
            f"driver: {driver}; {a.runs} runs each.\n"
            f"podium / podman: cold {ratio_cold:.2f}x, warm {ratio_warm:.2f}x.\n")
        print(table)
        if a.json:
            Path(a.json).write_text(json.dumps({"results": results, "table": table,
                                                "driver": driver, "layer_sizes": sizes}, indent=2))
        return 0
    finally:
        try:
            subprocess.run(podman + ["rmi", "-af"], capture_output=True, timeout=120, env=env)
        except (OSError, subprocess.TimeoutExpired):
            pass
        reg.stop()
        _unmount_under(base)  # Podman's overlay driver mounts its graph root's overlay dir
        shutil.rmtree(base, ignore_errors=True)


def _unmount_under(base: Path) -> None:
    with open("/proc/self/mountinfo") as f:
        mounts = [ln.split()[4] for ln in f if ln.split()[4].startswith(str(base))]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


def _prepare_via_shell(argv: list[str]) -> list[str]:
    """hyperfine runs --prepare through its shell unless --shell=none; keep them in sh -c."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--prepare":
            out += ["--prepare", quote(["sh", "-c", argv[i + 1]])]
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


if __name__ == "__main__":
    sys.exit(main())
