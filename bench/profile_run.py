#!/usr/bin/env python3
"""Where does ``podium run --rm busybox true`` spend its time? A phase profiler.

    .venv/bin/python bench/profile_run.py [--runs 5] [--cprofile OUT.prof] [-- podium args...]

It makes a private store in /tmp (busybox imported), then, per run, starts a
fresh interpreter that runs podium's ``main`` with timing wrappers around the
phases of the run path (imports, store, image look-up, overlay mount, /etc
files, config.json, conmon + runc create, attach, runc start, output copy,
exit wait, cleanup). The interpreter's start-up is measured from a timestamp
the parent takes just before spawning. Prints the median of each phase over
the runs, as a tree in milliseconds. Everything it made is removed at the end.

Wrapping costs a few microseconds per call; the phases are coarse enough that
this does not matter. Not run by CI.
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

# The child: runs inside a fresh interpreter started by the parent.
CHILD = r"""
import os, sys, time, json
T0 = time.time_ns()
spawn_ns = int(os.environ.pop("PDB_SPAWN_NS"))
events = []          # (depth, label, start_ns, end_ns)
depth = [0]

def mark(label, a, b, d=None):
    events.append((depth[0] if d is None else d, label, a, b))

def wrap(obj, name, label):
    orig = getattr(obj, name, None)
    if orig is None:  # the code moved on: profile what still exists
        return
    def w(*a, **k):
        s = time.time_ns(); depth[0] += 1
        try:
            return orig(*a, **k)
        finally:
            depth[0] -= 1; mark(label, s, time.time_ns())
    setattr(obj, name, w)

mark("python start-up (exec → first line, incl. site)", spawn_ns, T0, 0)
s = time.time_ns()
from podium.cli import main as climain
mark("import podium.cli.main" + (" (incl. click)" if "click" in sys.modules else ""), s, time.time_ns(), 0)
s = time.time_ns()
import podium.cli.containers, podium.engine.engine, podium.engine.state.store
mark("import cli.containers, engine, store" + (" (incl. click)" if "click" in sys.modules else ""),
     s, time.time_ns(), 0)
s = time.time_ns()
from podium.engine import containers, lifecycle, attach, images
from podium.engine.runtime import conmon, oci, ocispec
from podium.engine.storage import overlay
from podium.engine.net import etcfiles
mark("import engine modules (containers, lifecycle, images, archive, ocispec ...)", s, time.time_ns(), 0)

from podium.engine.state.store import Store
from podium.engine.engine import Engine
wrap(Store, "__init__", "open SQLite store (+migrations check)")
wrap(containers.Containers, "create", "containers.create (spec → config, name, row insert)")
wrap(images.ImageStore, "resolve", "image resolve")
wrap(images.ImageStore, "config_of", "image config read")
wrap(containers.Containers, "lock", "lock (flock)")
wrap(lifecycle, "start_locked", "start_locked (everything up to runc start)")
wrap(images.ImageStore, "layer_dirs", "image layer dirs")
wrap(overlay, "mount_rootfs", "overlay mount")
wrap(etcfiles, "write_etc_files", "write /etc files (hosts, resolv.conf ...)")
wrap(ocispec, "build_config", "build config.json (ocispec)")
wrap(oci, "cgroup_v2_unified", "cgroup v2 check")
wrap(conmon, "find_conmon", "find conmon")
wrap(Engine, "self_command", "exit command argv")
wrap(conmon, "launch", "conmon + runc create (spawn → sync pid)")
wrap(conmon, "attach_socket", "connect attach socket")
wrap(oci.OCIRuntime, "start", "runc start")
wrap(lifecycle, "_set_state", "store: set state")
wrap(attach, "copy_output", "copy output until EOF (container runs + exits)")
wrap(attach, "wait_exit_code", "wait for exit file")
wrap(lifecycle, "cleanup_locked", "cleanup (runc delete, unmount, purge)")
wrap(oci.OCIRuntime, "delete", "runc delete")
wrap(overlay, "unmount_rootfs", "overlay unmount")
wrap(containers.Containers, "purge", "purge (row + dirs)")

code = 0
s = time.time_ns()
try:
    climain.main(sys.argv[1:])
except SystemExit as e:
    code = e.code or 0
mark("argument parsing + command (total)", s, time.time_ns(), 0)
s = time.time_ns()
sys.stdout.flush()
with open(os.environ["PDB_OUT"], "w") as f:
    json.dump({"events": events, "end": time.time_ns(), "code": code}, f)
os._exit(code)
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds to sleep between runs, so that the previous run's exit command "
                         "(a second podium process started by conmon) is over (default 0: back to back)")
    ap.add_argument("--inherit-bytecode-env", action="store_true",
                    help="keep this shell's PYTHONDONTWRITEBYTECODE/PYTHONPYCACHEPREFIX")
    ap.add_argument("--cprofile", help="also write a cProfile of one extra run here")
    ap.add_argument("podium_args", nargs="*", default=["run", "--rm", "busybox", "true"])
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="pdp", dir="/tmp"))
    env = {**os.environ, "PODIUM_ROOT": str(base / "r"), "PODIUM_RUNROOT": str(base / "rr"),
           "PYTHONPATH": str(REPO)}
    if not args.inherit_bytecode_env:
        # as installed: warm bytecode cache, kept out of the repository (see run_bench.py)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(base / "pyc")
    podium = [sys.executable, "-m", "podium"]
    try:
        sys.path.insert(0, str(REPO))
        from tests.rootfs import write_rootfs_tar
        write_rootfs_tar(base / "bb.tar")
        subprocess.run(podium + ["import", str(base / "bb.tar"), "busybox", "--change", 'CMD ["sh"]'],
                       env=env, check=True, capture_output=True)
        subprocess.run(podium + ["--help"], env=env, check=True, capture_output=True)
        for _ in range(3):  # warm caches
            subprocess.run(podium + args.podium_args, env=env, check=True, capture_output=True)

        per_label: dict[tuple[int, str], list[float]] = {}
        order: list[tuple[int, str]] = []
        walls, tails = [], []
        for _ in range(args.runs):
            time.sleep(args.gap)
            out = base / "events.json"
            env2 = {**env, "PDB_OUT": str(out)}
            env2["PDB_SPAWN_NS"] = str(time.time_ns())
            t0 = time.time_ns()
            subprocess.run([sys.executable, "-c", CHILD, *args.podium_args], env=env2, check=True,
                           stdout=subprocess.DEVNULL)
            t1 = time.time_ns()
            data = json.loads(out.read_text())
            walls.append((t1 - t0) / 1e6)
            tails.append((t1 - data["end"]) / 1e6)
            seen: dict[tuple[int, str], float] = {}
            for d, label, a, b in sorted(data["events"], key=lambda e: e[2]):
                key = (d, label)
                seen[key] = seen.get(key, 0.0) + (b - a) / 1e6
                if key not in order:
                    order.append(key)
            for k, v in seen.items():
                per_label.setdefault(k, []).append(v)

        print(f"podium {' '.join(args.podium_args)}: median of {args.runs} runs (ms), "
              f"{args.gap:g} s between runs\n")
        print(f"{'phase':<78} {'median':>8} {'min':>8}")
        for key in order:
            d, label = key
            vals = per_label[key]
            print(f"{'  ' * d + label:<78} {statistics.median(vals):8.1f} {min(vals):8.1f}")
        print(f"{'interpreter shutdown / os._exit → parent sees exit':<78} {statistics.median(tails):8.1f}")
        print(f"{'WALL (parent: spawn → exit)':<78} {statistics.median(walls):8.1f} {min(walls):8.1f}")

        if args.cprofile:
            subprocess.run([sys.executable, "-m", "cProfile", "-o", args.cprofile, "-m", "podium",
                            *args.podium_args], env=env, check=True, stdout=subprocess.DEVNULL)
            print(f"\ncProfile written to {args.cprofile}")
    finally:
        subprocess.run(podium + ["rm", "-a", "-f"], env=env, capture_output=True)
        with open("/proc/self/mountinfo") as f:
            mps = [ln.split()[4] for ln in f if ln.split()[4].startswith(str(base) + "/")]
        for mp in sorted(mps, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], check=False)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
