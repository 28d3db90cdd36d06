#!/usr/bin/env python3
"""No-op ``podium diff`` planning time for 100, 1,000 and 5,000 resources, engine state present.

Run from the repository root with the project's venv:

    .venv/bin/python bench/apply_bench.py [--sizes 100,1000,5000] [--runs 5] [--json OUT]

For each size, in a private temporary storage root:

1. a stack of one Deployment whose pods have 4 containers each (5 resources a
   pod: the pod and its containers), ``size / 5`` replicas;
2. the engine state is made by podium itself: ``execute`` of the first plan
   with ``start=False`` (every pod, infra container and container really
   created in the store, with owner labels and config hashes); then each
   container is marked running (its state row, and the ``conmon.pid`` file the
   engine's sync looks for), so that the plan sees a converged host without
   thousands of real processes on a 2-core machine;
3. timed, in process, ``runs`` times: ``load`` (read the YAML, convert, build
   the graph), ``observe`` (one read of the engine), ``plan`` (pure); the plan
   must be empty (``no changes``) or the run is void;
4. timed once: the real ``podium diff -f DIR`` command, end to end (interpreter
   start-up and imports included), which must exit 0.

The goal (issue 6): under 1 s of podium's own time (load + observe + plan) at
1,000 resources. The storage root is removed at the end (nothing was started:
no mounts, no processes).
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
sys.path.insert(0, str(REPO))

CONTAINERS_PER_POD = 4


def stack_yaml(pods: int) -> str:
    ctrs = "".join(f"      - name: c{i}\n        image: localhost/busybox\n        command: [sleep, \"1000\"]\n"
                   f"        env: [{{name: ROLE, value: c{i}}}]\n" for i in range(CONTAINERS_PER_POD))
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n"
            f"  replicas: {pods}\n  selector: {{matchLabels: {{app: app}}}}\n  template:\n"
            "    metadata: {labels: {app: app}}\n    spec:\n      terminationGracePeriodSeconds: 0\n"
            f"      containers:\n{ctrs}")


def populate(engine, d: Path) -> tuple[int, float]:
    from podium.declare import reconcile
    from podium.declare.execute import Options, execute
    t0 = time.perf_counter()
    desired = reconcile.load(engine, [str(d)], stack="bench")
    plan = reconcile.diff(engine, desired)
    result = execute(engine, desired, plan, Options(parallel=1, start=False))
    bad = [o for o in result.outcomes if o.status != "done"]
    if bad:
        raise SystemExit(f"populate failed: {bad[0].action.rid}: {bad[0].error}")
    # marked running: the state row and the conmon.pid file containers.sync checks
    store = engine.store
    for c in store.containers():
        bundle = engine.paths.bundle(c["id"])
        bundle.mkdir(parents=True, exist_ok=True)
        (bundle / "conmon.pid").write_text("1\n")
        c["state"].update(status="running", pid=1, started_at="2026-01-01T00:00:00Z")
        with store.write():
            store.set_container_state(c["id"], c["state"])
    return len(desired.resources), time.perf_counter() - t0


def measure(root: str, runroot: str, d: Path, runs: int) -> dict[str, list[float]]:
    from podium.declare import reconcile
    from podium.declare.observe import observe
    from podium.declare.plan import plan
    from podium.declare.stack import SpecStore
    from podium.engine.engine import Engine

    out: dict[str, list[float]] = {"load": [], "observe": [], "plan": [], "total": []}
    for _ in range(runs):
        engine = Engine(root=root, runroot=runroot)
        t0 = time.perf_counter()
        desired = reconcile.load(engine, [str(d)], stack="bench")
        t1 = time.perf_counter()
        snap = observe(engine, "bench")
        t2 = time.perf_counter()
        p = plan(desired, snap, old_spec=SpecStore(root).get)
        t3 = time.perf_counter()
        engine.close()
        if p.changed or p.errors:
            raise SystemExit(f"not a no-op: {p.summary()} {p.errors[:1]} "
                             f"{[a.line() for a in p.changes()[:3]]}")
        for k, v in (("load", t1 - t0), ("observe", t2 - t1), ("plan", t3 - t2), ("total", t3 - t0)):
            out[k].append(v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the figures to this file")
    a = ap.parse_args()
    from podium.engine.engine import Engine
    from tests.rootfs import write_rootfs_tar

    rows = []
    for size in [int(s) for s in a.sizes.split(",")]:
        pods = max(1, size // (CONTAINERS_PER_POD + 1))
        base = Path(tempfile.mkdtemp(prefix="pdm-applybench-"))
        try:
            root, runroot = str(base / "root"), str(base / "run")
            env = {**os.environ, "PODIUM_ROOT": root, "PODIUM_RUNROOT": runroot}
            tar = write_rootfs_tar(base / "busybox.tar")
            subprocess.run([sys.executable, "-m", "podium", "import", str(tar), "busybox"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            d = base / "stack"
            d.mkdir()
            (d / "app.yaml").write_text(stack_yaml(pods))
            engine = Engine(root=root, runroot=runroot)
            n, pop_s = populate(engine, d)
            engine.close()
            t = measure(root, runroot, d, a.runs)
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "podium", "diff", "-f", str(d), "--stack", "bench"], env=env,
                               capture_output=True, text=True)
            cli = time.perf_counter() - t0
            if r.returncode != 0:
                raise SystemExit(f"podium diff exited {r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}")
            row = {"resources": n, "pods": pods, "containers": pods * CONTAINERS_PER_POD,
                   "populate_s": round(pop_s, 2), "cli_diff_s": round(cli, 3),
                   **{f"{k}_median_s": round(statistics.median(v), 4) for k, v in t.items()},
                   "total_min_s": round(min(t["total"]), 4)}
            rows.append(row)
            print(f"{n:>6} resources: load {row['load_median_s']:.3f}s  observe {row['observe_median_s']:.3f}s  "
                  f"plan {row['plan_median_s']:.3f}s  total {row['total_median_s']:.3f}s (median of {a.runs})  "
                  f"| podium diff CLI {cli:.3f}s  | populate {pop_s:.1f}s", flush=True)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
