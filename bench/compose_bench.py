#!/usr/bin/env python3
"""``compose up -d`` + ``down`` of a 3-service project: podium vs podman-compose on Podman.

Run from the repository root with the project's venv (podman-compose comes from the
``bench`` extra: ``.venv/bin/pip install -e '.[bench]'``, or Debian's package):

    .venv/bin/python bench/compose_bench.py [--runs N] [--json OUT]

The project (written to the work directory): ``db`` with a health check, ``cache``,
and ``web`` that depends on ``db`` being healthy and on ``cache`` being started; all
three are busybox ``httpd`` under ``init: true`` (so SIGTERM ends them at once), on
the project's default bridge network. Each run times, per tool, ``up -d`` (until the
command returns: for podium that includes the wait for db's health) and ``down``
separately, alternating the tools run by run (paired), and checks after ``down`` that
no container of the project is left. Two more comparisons: the same project
with ``start_period: 10s`` and ``start_interval: 0.2s`` in db's health check (a
check every 0.2 s until it passes, Docker's way of opening a health gate early),
and with ``condition: service_started`` instead of ``service_healthy``.

Both tools use private stores in one fresh /tmp directory (run_bench.Bench: podium's
--root/--runroot, Podman's --root/--runroot/--tmpdir and its own containers.conf,
passed to podman-compose through --podman-args); nothing touches the default stores.

Note: podman-compose skips ``service_healthy`` conditions on Podman older than 4.6
(it logs "Ignored ... condition check"), so on such a host it starts ``web`` without
waiting for ``db``'s health; the report says when that happened.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench as rb  # noqa: E402
from run_bench import log  # noqa: E402

GOAL = 0.5
PROJECT = "pdbc"
START_INTERVAL = "\n      start_period: 10s\n      start_interval: 0.2s"
VARIANTS = {  # name -> (db's condition for web, extra healthcheck keys)
    "service_healthy": ("service_healthy", ""),
    "service_healthy+start_interval": ("service_healthy", START_INTERVAL),
    "service_started": ("service_started", ""),
}

COMPOSE = """\
services:
  db:
    image: localhost/busybox:latest
    init: true
    command: sh -c "touch /tmp/ready; exec httpd -f -p 5432 -h /www"
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 30{extra}
  cache:
    image: localhost/busybox:latest
    init: true
    command: httpd -f -p 6379 -h /www
  web:
    image: localhost/busybox:latest
    init: true
    command: httpd -f -p 80 -h /www
    depends_on:
      db:
        condition: {condition}
      cache:
        condition: service_started
"""


def podman_compose() -> list[str]:
    venv = Path(sys.executable).parent / "podman-compose"
    if venv.exists():
        return [str(venv)]
    found = shutil.which("podman-compose")
    if not found:
        raise SystemExit("podman-compose is not installed: .venv/bin/pip install -e '.[bench]'")
    return [found]


class ComposeBench:
    def __init__(self, args: argparse.Namespace) -> None:
        ns = argparse.Namespace(runs=args.runs, warmup=0, inherit_bytecode_env=False, gap=0.0)
        self.b = rb.Bench(ns)
        self.args = args
        self.files: dict[str, Path] = {}
        self.ignored_health = False

    def setup(self) -> None:
        from tests.rootfs import write_rootfs_tar  # noqa: PLC0415 - needs REPO on sys.path

        sys.path.insert(0, str(rb.REPO))
        write_rootfs_tar(self.b.tar, extra={"www/index.html": b"hello\n"})
        self.b._setup_podium()
        self.b._setup_podman()
        for variant, (cond, extra) in VARIANTS.items():
            d = self.b.base / variant
            d.mkdir()
            (d / "compose.yaml").write_text(COMPOSE.replace("{condition}", cond).replace("{extra}", extra))
            self.files[variant] = d / "compose.yaml"

    def cmd(self, tool: str, f: Path, *a: str) -> list[str]:
        if tool == "podium":
            return self.b.podium("compose", "-f", str(f), "-p", PROJECT, *a)
        podman_args = " ".join(self.b.podman()[1:])
        return podman_compose() + ["--podman-args", podman_args, "-f", str(f), "-p", PROJECT, *a]

    def left(self, tool: str) -> list[str]:
        argv = (self.b.podium("ps", "-aq") if tool == "podium" else self.b.podman("ps", "-aq"))
        return rb.sh(argv, env=self.b.bench_env()).stdout.split()

    def timed(self, argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=self.b.bench_env(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=300)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:6])}... exited {p.returncode}: {p.stderr[-2000:]}")
        return dt, p

    def file_for(self, tool: str, variant: str) -> Path:
        """podman-compose passes start_interval on as --health-startup-interval, which Podman
        before 4.8 does not know: it runs the start_interval variant without those keys (it
        ignores the health condition on such a Podman anyway)."""
        if tool == "podman-compose" and "start_interval" in variant:
            return self.files["service_healthy"]
        return self.files[variant]

    def cycle(self, tool: str, f: Path) -> tuple[float, float]:
        up, p = self.timed(self.cmd(tool, f, "up", "-d"))
        if "Ignored" in p.stderr and "condition check" in p.stderr:
            self.ignored_health = True
        down, _ = self.timed(self.cmd(tool, f, "down", "-t", "10"))
        left = self.left(tool)
        if left:
            raise RuntimeError(f"{tool}: containers left after down: {left}")
        return up, down

    def run(self, cond: str) -> dict[str, dict[str, list[float]]]:
        out: dict[str, dict[str, list[float]]] = {t: {"up": [], "down": [], "total": []}
                                                  for t in ("podium", "podman-compose")}
        for tool in out:  # warm-up (bytecode, images, networks' first creation)
            self.cycle(tool, self.file_for(tool, cond))
        for i in range(self.args.runs):
            order = ("podium", "podman-compose") if i % 2 == 0 else ("podman-compose", "podium")
            for tool in order:
                up, down = self.cycle(tool, self.file_for(tool, cond))
                out[tool]["up"].append(up)
                out[tool]["down"].append(down)
                out[tool]["total"].append(up + down)
            log(f"{cond} run {i + 1}/{self.args.runs}: " + ", ".join(
                f"{t} {out[t]['total'][-1]:.2f}s" for t in out))
        return out

    def cleanup(self) -> None:
        for tool in ("podium", "podman-compose"):
            for f in self.files.values():
                subprocess.run(self.cmd(tool, f, "down", "-t", "0"), env=self.b.bench_env(),
                               capture_output=True, timeout=120)
        self.b.cleanup()


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(results: dict[str, dict[str, dict[str, list[float]]]], ignored_health: bool, runs: int) -> str:
    lines = [f"### compose up -d + down, 3 services ({runs} paired runs, medians, seconds)", "",
             "| project | tool | up -d | down | up + down | ratio podium / podman-compose |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for cond, r in results.items():
        ratio = med(r["podium"]["total"]) / med(r["podman-compose"]["total"])
        for tool in ("podium", "podman-compose"):
            t = r[tool]
            lines.append(f"| web gated on db {cond} | {tool} | {med(t['up']):.2f} | {med(t['down']):.2f} | "
                         f"{med(t['total']):.2f} | {f'{ratio:.2f}x' if tool == 'podium' else ''} |")
    lines.append("")
    first = next(iter(results.values()))
    ratio = med(first["podium"]["total"]) / med(first["podman-compose"]["total"])
    lines.append(f"Goal: podium at most {GOAL}x podman-compose's median (health-gated project): "
                 f"{ratio:.2f}x, {'met' if ratio <= GOAL else 'NOT met'}.")
    if ignored_health:
        lines.append("podman-compose ignored the service_healthy condition on this Podman (< 4.6): "
                     "it did not wait for db's health check; podium did.")
    if any("start_interval" in v for v in results):
        lines.append("start_interval variant: podman-compose ran the plain health-gated project "
                     "(it maps start_interval to a flag this Podman lacks).")
    lines.append(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="paired runs per comparison (default 10)")
    ap.add_argument("--json", help="write every sample here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    bench = ComposeBench(args)

    def _term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _term)
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    try:
        bench.setup()
        for variant in VARIANTS:
            results[variant] = bench.run(variant)
    finally:
        bench.cleanup()
    text = report(results, bench.ignored_health, args.runs)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "ignored_health": bench.ignored_health,
                                               "markdown": text}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
