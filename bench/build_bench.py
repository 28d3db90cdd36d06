"""A 5-step build, podium build against podman build, in one run on one machine.

    .venv/bin/python bench/build_bench.py [--runs 5] [--json OUT]

The context is busybox-static and a Containerfile of five steps:

    FROM scratch
    COPY busybox /bin/busybox
    RUN ["/bin/busybox", "--install", "-s", "/bin"]
    RUN echo built > /built && ls /bin | wc -l > /applets
    CMD ["cat", "/built"]

Two RUN steps each start a real container (runc for both tools). Rows:
``cold`` builds with ``--no-cache`` (every step runs); ``cached`` rebuilds an
unchanged context (every step comes from the layer cache). Both tools get
private storage (``--root``/``--runroot`` in a fresh /tmp directory, removed at
the end), ``--network none``, and Podman keeps intermediate layers
(``--layers``, its default) so that its cache is used. Timings are wall clock
of the whole CLI, alternated between the tools, median and min over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTAINERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo built > /built && ls /bin | wc -l > /applets
CMD ["cat", "/built"]
"""
CONF = '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{r.stdout}\n{r.stderr}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the samples and the table here")
    a = ap.parse_args()
    for tool in ("podman", "runc", "conmon"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    if not os.path.exists("/bin/busybox"):
        raise SystemExit("busybox-static is not installed")
    base = Path(tempfile.mkdtemp(prefix="pdbb", dir="/tmp"))
    try:
        ctx = base / "ctx"
        ctx.mkdir()
        (ctx / "Containerfile").write_text(CONTAINERFILE)
        shutil.copy2("/bin/busybox", ctx / "busybox")
        (base / "containers.conf").write_text(CONF)
        (base / "ptmp").mkdir()
        podium = [sys.executable, "-m", "podium", "--root", str(base / "pr"),
                  "--runroot", str(base / "prr"), "build", "-q", "-t", "localhost/bench"]
        podman = ["podman", "--root", str(base / "qr"), "--runroot", str(base / "qrr"),
                  "--tmpdir", str(base / "ptmp"), "--storage-driver", "overlay",
                  "build", "-q", "--network", "none", "--layers", "-t", "localhost/bench"]
        env = {**os.environ, "CONTAINERS_CONF": str(base / "containers.conf")}
        probe = subprocess.run(podman + [str(ctx)], env=env, capture_output=True, text=True)
        if probe.returncode != 0:  # no overlay for podman here: vfs, and say so
            log(f"podman overlay failed ({probe.stderr.strip()[:120]}); using vfs")
            subprocess.run(["podman", "--root", str(base / "qr"), "--runroot", str(base / "qrr"),
                            "system", "reset", "-f"], env=env, capture_output=True)
            podman[podman.index("overlay")] = "vfs"
            timed(podman + [str(ctx)], env)
        driver = podman[podman.index("--storage-driver") + 1]
        timed(podium + [str(ctx)], os.environ.copy())
        samples: dict[str, list[float]] = {}
        for label, extra in (("cold (--no-cache)", ["--no-cache"]), ("cached", [])):
            for i in range(a.runs):
                log(f"{label}: run {i + 1}/{a.runs}")
                samples.setdefault(f"podium {label}", []).append(
                    timed(podium + extra + [str(ctx)], os.environ.copy()))
                samples.setdefault(f"podman {label}", []).append(
                    timed(podman + extra + [str(ctx)], env))
        rows = ["| build (5 steps, 2 RUN) | median s | min s | podium / podman |",
                "| --- | ---: | ---: | ---: |"]
        for label in ("cold (--no-cache)", "cached"):
            pm = statistics.median(samples[f"podium {label}"])
            qm = statistics.median(samples[f"podman {label}"])
            rows.append(f"| podium {label} | {pm:.3f} | {min(samples[f'podium {label}']):.3f} "
                        f"| {pm / qm:.2f}× |")
            rows.append(f"| podman {label} ({driver}) | {qm:.3f} | "
                        f"{min(samples[f'podman {label}']):.3f} | |")
        versions = {t: subprocess.run([t, "--version"], capture_output=True, text=True
                                      ).stdout.splitlines()[0] for t in ("podman", "runc")}
        load = os.getloadavg()[0]
        table = "\n".join(rows) + f"\n\n{a.runs} runs each, 1-min load {load:.2f}; " + \
            ", ".join(versions.values())
        print(table)
        if a.json:
            Path(a.json).write_text(json.dumps({"samples": samples, "table": table,
                                                "versions": versions, "podman_driver": driver},
                                               indent=2))
    finally:
        for argv in (["podman", "--root", str(base / "qr"), "--runroot", str(base / "qrr"),
                      "system", "reset", "-f"],):
            subprocess.run(argv, env={**os.environ, "CONTAINERS_CONF": str(base / "containers.conf")},
                           capture_output=True)
        with open("/proc/self/mountinfo") as f:
            mounts = [ln.split()[4] for ln in f if ln.split()[4].startswith(str(base))]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
