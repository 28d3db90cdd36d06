#!/usr/bin/env python3
"""Side-by-side benchmark: bare runc, podium and Podman on the same busybox rootfs.

Run from the repository root with the project's venv (never through a pyenv shim):

    .venv/bin/python bench/run_bench.py [--runs N] [--ps-count 50] [--json OUT]

One invocation measures, each comparison in ONE hyperfine run so that all rows
share the same machine conditions:

1. ``run --rm busybox true``: bare ``runc run`` (the floor), then podium and
   Podman network for network: ``--network none`` (the goal's comparison) and
   each tool's default bridge network (podium's ``podium``/podium0 through its
   default network backend, Podman's ``podman`` through netavark).
2. ``ps -a`` with N created containers in each store.
3. Peak RSS of one CLI process (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a
   fresh wrapper process per measurement) and, separately, of conmon.

Everything lives under one private temporary directory in /tmp (short path:
conmon's attach socket path must stay under 108 bytes): podium's store, Podman's
graph root, run root, tmp dir, network config dir and containers.conf, and the
floor's bundle and runc root. Everything is removed at the end, even on failure.
Nothing here touches /var/lib/podium, /run/podium, Podman's default storage or
/run/libpod. (``podman system reset`` is deliberately not used: it also deletes
non-default networks from the network config dir and the global blob-info cache.)
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PODIUM = str(VENV_BIN / "podium") if (VENV_BIN / "podium").exists() else str(REPO / ".venv/bin/podium")
IMAGE = "busybox"

# Goals stated next to the numbers.
GOAL_RUN_VS_PODMAN = 0.5
GOAL_RUN_VS_FLOOR = 3.0
GOAL_PS_VS_PODMAN = 1.5

RSS_WRAPPER = r"""
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
if p.returncode:
    sys.stderr.buffer.write(p.stderr)
    sys.exit(p.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def sh(argv: list[str], *, env: dict[str, str] | None = None, check: bool = True,
       capture: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=capture,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"command failed ({p.returncode}): {' '.join(argv)}\n"
                           f"{(p.stderr or '').strip()}")
    return p


def tool_version(argv: list[str]) -> str:
    try:
        out = sh(argv, check=False).stdout.strip().splitlines()
        return out[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = Path(tempfile.mkdtemp(prefix="pdb", dir="/tmp"))
        b = self.base
        # podium's private store
        self.p_root, self.p_runroot = b / "r", b / "rr"
        # Podman's private store and config
        self.m_root, self.m_runroot, self.m_tmp = b / "mr", b / "mrr", b / "mt"
        self.m_netdir, self.m_conf = b / "mn", b / "containers.conf"
        self.m_driver = "overlay"
        # the floor: bundle + private runc root
        self.f_bundle, self.f_runc_root, self.f_id = b / "f", b / "fr", f"pdbfloor{os.getpid()}"
        # the same floor, but with the config.json podium generated (seccomp, caps, masks, cgroup)
        self.fp_bundle, self.fp_id = b / "fp", f"pdbfloorp{os.getpid()}"
        self.fp_cgroup = f"/pdbfloor{os.getpid()}"
        self.have_fp = False
        self.tar = b / "bb.tar"
        self.hyperfine_json: dict[str, dict] = {}
        self.loadavg: dict[str, tuple[float, float]] = {}  # 1-minute load average before/after each comparison
        self.notes: list[str] = []
        self.podium_cg_existed = self._podium_cgroups()

    # ---- helpers ------------------------------------------------------------
    def podium(self, *a: str) -> list[str]:
        return [PODIUM, "--root", str(self.p_root), "--runroot", str(self.p_runroot), *a]

    def podman(self, *a: str) -> list[str]:
        return ["podman", "--root", str(self.m_root), "--runroot", str(self.m_runroot),
                "--tmpdir", str(self.m_tmp), "--storage-driver", self.m_driver, *a]

    def bench_env(self) -> dict[str, str]:
        """The environment of every measured command (podium ignores CONTAINERS_CONF, Podman PYTHON*)."""
        env = {**os.environ, "CONTAINERS_CONF": str(self.m_conf)}
        if not self.args.inherit_bytecode_env:
            # Measure podium as installed: bytecode cached. A private cache prefix keeps the
            # .pyc files out of the repository; PYTHONDONTWRITEBYTECODE (set on some hosts)
            # would otherwise make every call recompile modules whose .pyc is missing or stale.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.base / "pyc")
        return env

    def floor(self) -> list[str]:
        return ["runc", "--root", str(self.f_runc_root), "run", "--bundle", str(self.f_bundle), self.f_id]

    def floor_podium_config(self) -> list[str]:
        return ["runc", "--root", str(self.f_runc_root), "run", "--bundle", str(self.fp_bundle), self.fp_id]

    @staticmethod
    def _podium_cgroups() -> set[str]:
        return {str(p) for p in Path("/sys/fs/cgroup").glob("*/podium")}

    # ---- setup --------------------------------------------------------------
    def setup(self) -> None:
        sys.path.insert(0, str(REPO))
        from tests.rootfs import write_rootfs_tar

        write_rootfs_tar(self.tar)
        log(f"work dir {self.base}; rootfs tar {self.tar.stat().st_size} bytes")
        self._setup_floor()
        self._setup_podium()
        self._setup_podman()

    def _setup_floor(self) -> None:
        rootfs = self.f_bundle / "rootfs"
        rootfs.mkdir(parents=True)
        sh(["tar", "-C", str(rootfs), "-xf", str(self.tar)])
        subprocess.run(["runc", "spec"], cwd=self.f_bundle, check=True)
        cfg_path = self.f_bundle / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["true"]
        cfg["root"] = {"path": str(rootfs), "readonly": True}
        cfg_path.write_text(json.dumps(cfg, indent=2))
        self.f_runc_root.mkdir()
        sh(self.floor())  # smoke test

    def _setup_podium(self) -> None:
        env = self.bench_env()
        sh(self.podium("import", str(self.tar), IMAGE, "--change", 'CMD ["sh"]'), env=env)
        sh(self.podium("run", "--rm", "--network", "none", IMAGE, "true"), env=env)  # smoke test (fills the bytecode cache)
        sh(self.podium("run", "--rm", IMAGE, "true"), env=env)  # default network (bridge as root)
        sh(self.podium("--help"), env=env)  # imports every command module once
        try:
            self._setup_floor_podium_config()
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            self.notes.append(f"no 'runc run (podium's config.json)' row: {exc}")

    def _setup_floor_podium_config(self) -> None:
        """A bundle with the config.json podium generates, run by bare runc on the floor's rootfs.

        It separates what the runtime charges for podium's container config (seccomp
        filter, capabilities, masked paths, namespaces, cgroup) from podium's own cost.
        Relies on podium's layout: RUNROOT/containers/<id>/config.json, written at start.
        """
        cid = sh(self.podium("run", "-d", "--network", "none", IMAGE, "sleep", "1"),
                 env=self.bench_env()).stdout.strip().splitlines()[-1]
        try:
            src = self.p_runroot / "containers" / cid
            cfg = json.loads((src / "config.json").read_text())
            self.fp_bundle.mkdir()
            mounts = []
            for m in cfg.get("mounts", []):
                source = m.get("source", "")
                if source.startswith((str(self.p_root), str(self.p_runroot))):
                    if not os.path.isfile(source):
                        continue
                    copy = self.fp_bundle / ("etc-" + os.path.basename(source))
                    shutil.copyfile(source, copy)
                    m = {**m, "source": str(copy)}
                mounts.append(m)
            cfg["mounts"] = mounts
            cfg["process"]["terminal"] = False
            cfg["process"]["args"] = ["true"]
            cfg["root"] = {"path": str(self.f_bundle / "rootfs"), "readonly": True}
            linux = cfg.setdefault("linux", {})
            linux["cgroupsPath"] = self.fp_cgroup
            # a fresh namespace of each kind: never join the (gone) container's own
            linux["namespaces"] = [{"type": n["type"]} for n in linux.get("namespaces", [])]
            (self.fp_bundle / "config.json").write_text(json.dumps(cfg))
        finally:
            sh(self.podium("rm", "-f", cid), env=self.bench_env(), check=False)
        sh(self.floor_podium_config())  # smoke test
        self.have_fp = True

    def _setup_podman(self) -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard == resource.RLIM_INFINITY:
            hard = 1048576
        for d in (self.m_tmp, self.m_netdir):
            d.mkdir()
        # Podman asks runc for RLIMIT_NOFILE 1048576 by default, which runc cannot set above
        # `ulimit -Hn` without CAP_SYS_RESOURCE: pin nofile to the hard limit and nproc to 1000.
        self.m_conf.write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={hard}:{hard}", "nproc=1000:1000"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            f'tmp_dir = "{self.m_tmp}"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.m_tmp}/events.log"\n'
            "[network]\n"
            f'network_config_dir = "{self.m_netdir}"\n'
        )
        log(f"podman containers.conf at {self.m_conf} (ulimit -Hn = {hard})")
        env = self.bench_env()
        try:
            sh(self.podman("import", str(self.tar), IMAGE, "--change", 'CMD ["sh"]'), env=env)
            sh(self.podman("run", "--rm", "--network", "none", IMAGE, "true"), env=env)
        except RuntimeError as exc:
            log(f"podman with overlay failed, falling back to vfs: {exc}")
            self._cleanup_podman()
            self.m_driver = "vfs"
            for d in (self.m_tmp, self.m_netdir):
                d.mkdir(exist_ok=True)
            sh(self.podman("import", str(self.tar), IMAGE, "--change", 'CMD ["sh"]'), env=env)
            sh(self.podman("run", "--rm", "--network", "none", IMAGE, "true"), env=env)
        sh(self.podman("run", "--rm", IMAGE, "true"), env=env)  # bridge smoke test
        log(f"podman storage driver: {self.m_driver}")

    # ---- measurements -------------------------------------------------------
    def hyperfine(self, key: str, commands: list[tuple[str, list[str]]], *, gap: float = 0.0,
                  runs: int | None = None) -> list[dict]:
        out = self.base / f"hf-{key}.json"
        runs = runs or self.args.runs
        argv = ["hyperfine", "-N", "--warmup", str(self.args.warmup), "--runs", str(runs),
                "--export-json", str(out)]
        if gap > 0:
            # let the previous run's exit command (conmon runs `podium|podman container cleanup`
            # when the container ends) finish before the next timed run starts
            argv += ["--prepare", f"sleep {gap:g}"]
        for name, cmd in commands:
            # -N: hyperfine splits the string itself, with shell quoting rules (sh -c '...' works)
            argv += ["--command-name", name, shlex.join(cmd)]
        log(f"hyperfine {key}: {len(commands)} commands x {runs} runs")
        # hyperfine's own progress goes to the terminal (stderr); results are read from JSON
        load0 = os.getloadavg()[0]
        p = subprocess.run(argv, env=self.bench_env(), stdin=subprocess.DEVNULL,
                           stdout=sys.stderr, stderr=sys.stderr)
        self.loadavg[key] = (load0, os.getloadavg()[0])
        if p.returncode != 0:
            raise RuntimeError(f"hyperfine {key} failed ({p.returncode})")
        data = json.loads(out.read_text())
        self.hyperfine_json[key] = data
        return data["results"]

    def bench_run(self) -> list[dict]:
        fp = [("runc run (podium's config.json)", self.floor_podium_config())] if self.have_fp else []
        return self.hyperfine("run", [
            ("runc run (floor)", self.floor()),
            *fp,
            ("podium run --rm --network none", self.podium("run", "--rm", "--network", "none", IMAGE, "true")),
            ("podman run --rm --network none", self.podman("run", "--rm", "--network", "none", IMAGE, "true")),
            ("podium run --rm (bridge)", self.podium("run", "--rm", IMAGE, "true")),
            ("podman run --rm (bridge)", self.podman("run", "--rm", IMAGE, "true")),
        ], gap=self.args.gap)

    def bench_ps(self) -> list[dict]:
        n = self.args.ps_count
        env = self.bench_env()
        for store, fn in (("podium", self.podium), ("podman", self.podman)):
            left = sh(fn("ps", "-a", "-q"), env=env).stdout.split()
            if left:
                self.notes.append(f"{store} store had {len(left)} containers left before the ps bench "
                                  "(a leak in run --rm?); removed them")
                sh(fn("rm", "-f", *left), env=env)
        log(f"creating {n} containers in each store")
        t0 = time.monotonic()
        for _ in range(n):
            sh(self.podium("create", IMAGE, "true"), env=env)
        t1 = time.monotonic()
        for _ in range(n):
            sh(self.podman("create", IMAGE, "true"), env=env)
        t2 = time.monotonic()
        self.create_times = {"podium": (t1 - t0) / n, "podman": (t2 - t1) / n}
        for store, fn in (("podium", self.podium), ("podman", self.podman)):
            got = len(sh(fn("ps", "-a", "-q"), env=env).stdout.split())
            if got != n:
                raise RuntimeError(f"{store} ps -a shows {got} containers, expected {n}")
        return self.hyperfine("ps", [
            (f"podium ps -a ({n})", self.podium("ps", "-a")),
            (f"podman ps -a ({n})", self.podman("ps", "-a")),
        ])

    def rss_once(self, cmd: list[str]) -> int:
        p = subprocess.run([sys.executable, "-I", "-S", "-c", RSS_WRAPPER, *cmd], env=self.bench_env(),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"rss measurement failed: {' '.join(cmd)}\n{p.stderr.strip()}")
        return int(p.stdout.strip())

    def conmon_rss(self, cmd: list[str]) -> int:
        """Peak VmHWM (KiB) of the conmon process(es) serving our store while ``cmd`` runs."""
        marker = str(self.base).encode()
        peak = 0
        p = subprocess.Popen(cmd, env=self.bench_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while p.poll() is None:
                for d in os.listdir("/proc"):
                    if not d.isdigit():
                        continue
                    try:
                        with open(f"/proc/{d}/cmdline", "rb") as f:
                            argv = f.read().split(b"\0")
                        if not argv[0].endswith(b"conmon") or marker not in b" ".join(argv):
                            continue
                        with open(f"/proc/{d}/status") as f:
                            for line in f:
                                if line.startswith("VmHWM:"):
                                    peak = max(peak, int(line.split()[1]))
                    except OSError:
                        continue
                time.sleep(0.02)
        finally:
            p.wait(timeout=60)
        return peak

    def bench_rss(self) -> list[dict]:
        n = self.args.rss_runs
        cases = [
            ("runc run (floor)", self.floor()),
            ("podium run --rm --network none", self.podium("run", "--rm", "--network", "none", IMAGE, "true")),
            ("podman run --rm --network none", self.podman("run", "--rm", "--network", "none", IMAGE, "true")),
            ("podium run --rm (bridge)", self.podium("run", "--rm", IMAGE, "true")),
            ("podman run --rm (bridge)", self.podman("run", "--rm", IMAGE, "true")),
            (f"podium ps -a ({self.args.ps_count})", self.podium("ps", "-a")),
            (f"podman ps -a ({self.args.ps_count})", self.podman("ps", "-a")),
        ]
        rows = []
        for name, cmd in cases:
            vals = [self.rss_once(cmd) for _ in range(n)]
            rows.append({"name": name, "kib": vals})
        log("sampling conmon's RSS (run --rm ... sleep 1)")
        for name, cmd in (
            ("conmon under podium", self.podium("run", "--rm", "--network", "none", IMAGE, "sleep", "1")),
            ("conmon under podman", self.podman("run", "--rm", "--network", "none", IMAGE, "sleep", "1")),
        ):
            rows.append({"name": name, "kib": [self.conmon_rss(cmd)], "conmon": True})
        return rows

    # ---- cleanup ------------------------------------------------------------
    def _mounts_under_base(self) -> list[str]:
        out = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if mp == str(self.base) or mp.startswith(str(self.base) + "/"):
                    out.append(mp)
        return sorted(out, key=len, reverse=True)  # deepest first

    def _cleanup_podman(self) -> None:
        env = self.bench_env()
        if self.m_root.exists():
            for argv in (self.podman("rm", "-a", "-f"), self.podman("rmi", "-a", "-f")):
                try:
                    sh(argv, env=env, check=False, timeout=120)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    log(f"cleanup: {exc}")
        for mp in self._mounts_under_base():
            if mp.startswith(str(self.m_root)) or mp.startswith(str(self.m_runroot)):
                subprocess.run(["umount", "-l", mp], check=False)
        for d in (self.m_root, self.m_runroot, self.m_tmp, self.m_netdir):
            shutil.rmtree(d, ignore_errors=True)

    def cleanup(self) -> None:
        log("cleaning up")
        # the floor's runc state (runc run removes it itself unless interrupted)
        if self.f_runc_root.exists():
            for rid in (self.f_id, self.fp_id):
                subprocess.run(["runc", "--root", str(self.f_runc_root), "delete", "-f", rid],
                               stdin=subprocess.DEVNULL, capture_output=True, check=False)
        for cg in Path("/sys/fs/cgroup").glob("*" + self.fp_cgroup):
            try:
                os.rmdir(cg)
            except OSError:
                pass
        # podium's containers (rm -f also unmounts their rootfs and deletes runc state)
        if self.p_root.exists():
            try:
                sh(self.podium("rm", "-a", "-f"), env=self.bench_env(), check=False, timeout=300)
            except (OSError, subprocess.TimeoutExpired) as exc:
                log(f"cleanup: {exc}")
        self._cleanup_podman()
        for mp in self._mounts_under_base():
            log(f"cleanup: unmounting leftover {mp}")
            subprocess.run(["umount", "-l", mp], check=False)
        shutil.rmtree(self.base, ignore_errors=True)
        # podium's cgroup parent, only if this run created it (rmdir only succeeds when empty)
        for cg in self._podium_cgroups() - self.podium_cg_existed:
            try:
                os.rmdir(cg)
            except OSError:
                pass
        if self.base.exists():
            log(f"cleanup: could not remove {self.base} completely")


# ---- reporting --------------------------------------------------------------

def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


def load_note(b: "Bench", key: str) -> str:
    """', load average X → Y' for a comparison's heading (other work on the machine)."""
    if key not in b.loadavg:
        return ""
    a, z = b.loadavg[key]
    return f", load average {a:.1f} → {z:.1f}"


def goal_mark(ok: bool) -> str:
    return "✅ met" if ok else "❌ missed"


def report(b: Bench, run: list[dict], ps: list[dict], rss: list[dict]) -> str:
    by = {r["command"]: r for r in run + ps}
    floor = by["runc run (floor)"]
    podium = by["podium run --rm --network none"]
    podman = by["podman run --rm --network none"]
    n = b.args.ps_count
    lines: list[str] = []
    w = lines.append

    spacing = (f"{b.args.gap:g} s pause before each run" if b.args.gap > 0 else "back to back")
    w(f"### `run --rm {IMAGE} true` ({b.args.runs} runs, {b.args.warmup} warm-up, {spacing}, one hyperfine run"
      f"{load_note(b, 'run')})")
    w("")
    w("| command | median ms | mean ± σ ms | min ms | × podman (same network) | × runc floor |")
    w("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in run:
        name = r["command"]
        ref = by.get("podman" + name[len("podium"):]) if name.startswith(("podium ", "podman ")) else None
        vs = f"{r['median'] / ref['median']:.2f}" if ref else "–"
        w(f"| {name} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])} "
          f"| {vs} | {r['median'] / floor['median']:.2f} |")
    w("")
    w(f"### `ps -a` with {n} created containers in each store (one hyperfine run{load_note(b, 'ps')})")
    w("")
    w("| command | median ms | mean ± σ ms | min ms | × podman ps |")
    w("| --- | ---: | ---: | ---: | ---: |")
    pm_ps = by[f"podman ps -a ({n})"]
    for r in ps:
        w(f"| {r['command']} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])} "
          f"| {r['median'] / pm_ps['median']:.2f} |")
    w("")
    w("### Goals (ratios of medians)")
    w("")
    r1 = podium["median"] / podman["median"]
    r2 = podium["median"] / floor["median"]
    r3 = by[f"podium ps -a ({n})"]["median"] / pm_ps["median"]
    w("| goal | target | measured | |")
    w("| --- | ---: | ---: | --- |")
    w(f"| podium run --rm / podman run --rm, both --network none | ≤ {GOAL_RUN_VS_PODMAN} | {r1:.2f} | "
      f"{goal_mark(r1 <= GOAL_RUN_VS_PODMAN)} |")
    rb_ = by["podium run --rm (bridge)"]["median"] / by["podman run --rm (bridge)"]["median"]
    w(f"| podium run --rm / podman run --rm, both on the default bridge | ≤ {GOAL_RUN_VS_PODMAN} | {rb_:.2f} | "
      f"{goal_mark(rb_ <= GOAL_RUN_VS_PODMAN)} |")
    w(f"| podium run --rm --network none / bare runc run | ≤ {GOAL_RUN_VS_FLOOR} | {r2:.2f} | "
      f"{goal_mark(r2 <= GOAL_RUN_VS_FLOOR)} |")
    w(f"| podium ps -a / podman ps -a ({n} containers) | ≤ {GOAL_PS_VS_PODMAN} | {r3:.2f} | "
      f"{goal_mark(r3 <= GOAL_PS_VS_PODMAN)} |")
    fpr = by.get("runc run (podium's config.json)")
    if fpr:
        w(f"| (for reference) podium run --rm --network none / runc run with podium's config.json | – | "
          f"{podium['median'] / fpr['median']:.2f} | |")
    w("")
    w(f"### Peak RSS (max resident set, {b.args.rss_runs} fresh processes each)")
    w("")
    w("| process | median MiB | max MiB | how |")
    w("| --- | ---: | ---: | --- |")
    last_how = ""
    for r in rss:
        how = ("VmHWM of the conmon monitor process, sampled while `run --rm … sleep 1` runs"
               if r.get("conmon") else "ru_maxrss(RUSAGE_CHILDREN) of a wrapper: the CLI and every child it waited for")
        how, last_how = ("″" if how == last_how else how), how
        w(f"| {r['name']} | {statistics.median(r['kib']) / 1024:.1f} | {max(r['kib']) / 1024:.1f} | {how} |")
    w("")
    if getattr(b, "create_times", None):
        w(f"`create {IMAGE} true` while filling the stores (sequential, wall clock per call): podium "
          f"{b.create_times['podium'] * 1000:.0f} ms, podman {b.create_times['podman'] * 1000:.0f} ms.")
        w("")
    w(f"Podman storage driver: {b.m_driver}; runtime runc; `default_ulimits` nofile = `ulimit -Hn`, nproc 1000; "
      "events to a file; private root, run root, tmp dir and network config dir.")
    w("")
    if b.args.inherit_bytecode_env:
        w("podium ran with the caller's bytecode settings (`--inherit-bytecode-env`).")
    else:
        w("podium ran with a warm private bytecode cache (PYTHONPYCACHEPREFIX in the bench's temp dir, "
          "PYTHONDONTWRITEBYTECODE unset), as an installed podium would.")
    for note in b.notes:
        w(f"\nNote: {note}")
    return "\n".join(lines)


def environment() -> dict[str, str]:
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "runc": tool_version(["runc", "--version"]),
        "conmon": tool_version(["conmon", "--version"]),
        "podman": tool_version(["podman", "--version"]),
        "hyperfine": tool_version(["hyperfine", "--version"]),
        "podium_tree": podium_tree(),
    }


def podium_tree() -> str:
    """The code measured: git HEAD plus uncommitted changes to podium's packages, if any."""
    try:
        head = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = sh(["git", "-C", str(REPO), "status", "--porcelain", "--", "engine", "podium", "declare"]
                   ).stdout.splitlines()
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return "unknown (not a git checkout)"
    if not dirty:
        return f"{head} (clean)"
    files = sorted({ln[3:].split(" -> ")[-1] for ln in dirty})
    return f"{head} + uncommitted changes in {', '.join(files)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="hyperfine runs per command (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="hyperfine warm-up runs (default 3)")
    ap.add_argument("--ps-count", type=int, default=50, help="containers created for the ps bench (default 50)")
    ap.add_argument("--rss-runs", type=int, default=5, help="fresh processes per RSS row (default 5)")
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds of pause (hyperfine --prepare 'sleep S') before each timed `run`, so the "
                         "previous container's exit command is over (default 0: back to back)")
    ap.add_argument("--inherit-bytecode-env", action="store_true",
                    help="run podium with this shell's PYTHONDONTWRITEBYTECODE/PYTHONPYCACHEPREFIX as they are "
                         "(default: a private, warm bytecode cache, as for an installed podium)")
    ap.add_argument("--json", help="write all raw results (hyperfine JSON, RSS samples) to this file")
    args = ap.parse_args()

    if os.geteuid() != 0:
        print("run_bench.py needs root (runc, conmon, overlay mounts)", file=sys.stderr)
        return 2
    for tool in ("runc", "conmon", "podman", "hyperfine", "tar"):
        if not shutil.which(tool):
            print(f"run_bench.py needs {tool} on PATH", file=sys.stderr)
            return 2

    # SIGTERM/SIGHUP -> SystemExit so that the finally below still cleans up
    def _term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)

    env = environment()
    b = Bench(args)
    try:
        b.setup()
        run = b.bench_run()
        ps = b.bench_ps()
        rss = b.bench_rss()
    finally:
        b.cleanup()

    text = report(b, run, ps, rss)
    print(f"podium benchmark, {env['date']}; {env['cpus']} CPUs, kernel {env['kernel']}, Python {env['python']}, "
          f"{env['runc']}, {env['conmon']}, {env['podman']}, {env['hyperfine']}\n")
    print(f"podium code measured: {env['podium_tree']}\n")
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "environment": env, "args": vars(args), "podman_storage_driver": b.m_driver,
            "hyperfine": b.hyperfine_json, "rss_kib": rss, "notes": b.notes,
            "create_seconds_per_call": getattr(b, "create_times", None), "markdown": text,
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
