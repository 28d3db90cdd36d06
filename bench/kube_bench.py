#!/usr/bin/env python3
"""play kube + kube down side by side: podium and Podman, in one hyperfine run.

Run from the repository root with the project's venv (never through a pyenv shim):

    .venv/bin/python bench/kube_bench.py [--runs N] [--multi-runs N] [--json OUT]

One invocation, one private temporary directory (run_bench.py's layout: podium's
store and Podman's graph root, run root, tmp dir, network config dir and
containers.conf all under it, all removed at the end). Each timed iteration is one
shell command: ``play kube FILE && kube down FILE`` (Podman: ``podman kube play``
and ``podman kube down``), on each tool's default bridge network:

1. a pod of 2 containers (issue 4's case) and one of 3 (the project brief's);
2. a 10-pod multi-document file (issue 4's case; one container each).

``--network none`` plays both tools' pods without a bridge (the pure tool cost).

The containers run ``/bin/sleep`` (an absolute path: Podman 4.3.1's kube play gives
a container only the image's Env, and the test image sets no PATH) and the pods
say ``terminationGracePeriodSeconds: 0`` so that ``kube down`` measures the
tools, not a grace period (``sleep`` as PID 1 ignores SIGTERM). The report gives each row's median and podium's ratio to Podman
(the goal: at most 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import sys
from pathlib import Path

import run_bench as rb
from run_bench import IMAGE, Bench, log, ms, sh

GOAL_VS_PODMAN = 0.5


def pod_yaml(name: str, containers: int) -> str:
    ctrs = "".join(f"  - {{name: c{i}, image: {IMAGE}, command: [/bin/sleep, \"300\"]}}\n" for i in range(containers))
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\nspec:\n"
            f"  terminationGracePeriodSeconds: 0\n  containers:\n{ctrs}")


class KubeBench(Bench):
    def setup(self) -> None:
        sys.path.insert(0, str(rb.REPO))
        from tests.rootfs import write_rootfs_tar

        write_rootfs_tar(self.tar)
        log(f"work dir {self.base}")
        self._setup_podium()
        self._setup_podman()
        self.files = {"2-container pod": self.base / "pod2.yaml", "3-container pod": self.base / "pod3.yaml",
                      "10 pods, one file": self.base / "pods10.yaml"}
        self.files["2-container pod"].write_text(pod_yaml("kb2", 2))
        self.files["3-container pod"].write_text(pod_yaml("kb3", 3))
        self.files["10 pods, one file"].write_text("---\n".join(pod_yaml(f"kb10-{i}", 1) for i in range(10)))
        env = self.bench_env()
        for label, path in self.files.items():  # smoke test (builds each tool's pause image first)
            for tool in ("podium", "podman"):
                sh(["sh", "-ec", self.cycle(tool, path)], env=env, timeout=300)
        log("play/down smoke tests passed")

    def _setup_podium(self) -> None:
        env = self.bench_env()
        sh(self.podium("import", str(self.tar), IMAGE, "--change", 'CMD ["sh"]'), env=env)
        net = ["--network", self.args.network] if self.args.network else []
        sh(self.podium("run", "--rm", *net, IMAGE, "true"), env=env)  # smoke test, warms the bytecode cache
        sh(self.podium("--help"), env=env)

    def tool(self, tool: str, *a: str) -> list[str]:
        return self.podium(*a) if tool == "podium" else self.podman(*a)

    def cycle(self, tool: str, path: Path) -> str:
        net = ["--network", self.args.network] if self.args.network else []
        play = self.tool(tool, "kube", "play", *net, str(path))
        down = self.tool(tool, "kube", "down", str(path))
        err = self.base / f"{tool}-{path.stem}.err"
        # stdout goes nowhere (hyperfine discards it); stderr is kept for a failure report
        return f"exec 2>>{shlex.quote(str(err))}; {shlex.join(play)} && {shlex.join(down)}"

    def run_all(self) -> dict[str, list[dict]]:
        out = {}
        for label, path in self.files.items():
            runs = self.args.multi_runs if path.stem == "pods10" else self.args.runs
            rows = [(f"{tool} kube play + down ({label})", ["sh", "-ec", self.cycle(tool, path)])
                    for tool in ("podium", "podman")]
            out[label] = self.hyperfine(path.stem, rows, runs=runs)
        return out

    def cleanup(self) -> None:
        env = self.bench_env()
        for path in getattr(self, "files", {}).values():
            for tool in ("podium", "podman"):
                sh(self.tool(tool, "kube", "down", str(path)), env=env, check=False, timeout=300)
        if self.p_root.exists():
            sh(self.podium("pod", "rm", "-a", "-f"), env=env, check=False, timeout=300)
        if self.m_root.exists():
            sh(self.podman("pod", "rm", "-a", "-f"), env=env, check=False, timeout=300)
        super().cleanup()


def report(results: dict[str, list[dict]]) -> str:
    lines = ["| case | podium median (ms) | Podman median (ms) | podium / Podman | goal |",
             "| --- | ---: | ---: | ---: | --- |"]
    ratios = {}
    for label, rows in results.items():
        med = {r["command"].split()[0]: statistics.median(r["times"]) for r in rows}
        ratio = med["podium"] / med["podman"]
        ratios[label] = ratio
        lines.append(f"| {label} | {ms(med['podium'])} | {ms(med['podman'])} | {ratio:.2f} | "
                     f"{rb.goal_mark(ratio <= GOAL_VS_PODMAN)} ≤ {GOAL_VS_PODMAN} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="hyperfine runs for the 2- and 3-container pods (default 10)")
    ap.add_argument("--multi-runs", type=int, default=5, help="hyperfine runs for the 10-pod file (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="hyperfine warm-up runs (default 1)")
    ap.add_argument("--inherit-bytecode-env", action="store_true",
                    help="run podium with this shell's PYTHONDONTWRITEBYTECODE/PYTHONPYCACHEPREFIX as they are")
    ap.add_argument("--network", help="play with --network NET on both tools (default: each one's default bridge)")
    ap.add_argument("--json", help="write the raw hyperfine results to this file")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("kube_bench.py needs root (runc, conmon, overlay mounts)", file=sys.stderr)
        return 2
    for tool in ("runc", "conmon", "podman", "hyperfine"):
        if not shutil.which(tool):
            print(f"kube_bench.py needs {tool} on PATH", file=sys.stderr)
            return 2

    def _term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)

    env = rb.environment()
    b = KubeBench(args)
    try:
        b.setup()
        results = b.run_all()
    finally:
        b.cleanup()
    text = report(results)
    print(f"kube play + kube down, {env['date']}; {env['cpus']} CPUs, kernel {env['kernel']}, "
          f"{env['podman']}, {env['hyperfine']}; network: {args.network or 'default bridge'}; "
          f"load average now {os.getloadavg()[0]:.1f}\n")
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "hyperfine": b.hyperfine_json,
                                               "markdown": text}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
