"""The reconciler's entry points: files -> desired -> observe -> plan -> execute.

``load`` reads and renders the stack's files into ``Desired`` (nothing is
created); ``diff`` is observe + plan; ``apply`` takes the stack's lock, then
observes, plans and executes, so two applies of one stack never interleave
and each plans from what the other left. ``stacks`` lists the stacks on the
host, ``delete`` removes everything a stack owns, dependents first.
Front doors (CLI, REST) call only these.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from podium.engine.errors import ConfigError, RuntimeFailure

from . import stack as st
from .execute import Options as ExecOptions
from .execute import Outcome, Result, execute
from .plan import Action, Plan, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

    from podium.engine.engine import Engine

    from .graph import Desired
    from .observe import Snapshot


@dataclass
class ApplyOptions:
    prune: bool = False
    prune_volumes: bool = False
    dry_run: bool = False
    wait: bool = False
    timeout: float = 300.0
    parallel: int = 4
    wait_lock: bool = True


@dataclass
class Report:
    stack: str
    plan: Plan
    result: Result | None = None
    started: float = field(default_factory=time.time)
    finished: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.plan.errors and (self.result is None or not self.result.failed)

    def to_json(self, *, dry_run: bool = False, command: str = "apply") -> dict[str, Any]:
        outcomes = self.result.outcomes if self.result else [Outcome(a) for a in self.plan.actions]
        counts = self.plan.counts()
        return {
            "command": command,
            "stack": self.stack,
            "dry_run": dry_run,
            "changed": self.plan.changed,
            "ok": self.ok,
            "summary": {"create": counts["create"], "recreate": counts["recreate"], "start": counts["start"],
                        "update": counts["update"], "remove": counts["remove"], "unchanged": counts["noop"],
                        "kept": counts["keep"]},
            "summary_text": self.plan.summary(),
            "actions": [o.to_json() for o in outcomes],
            "warnings": list(self.plan.warnings),
            "errors": list(self.plan.errors) + [f"{o.action.rid}: {o.error}" for o in
                                                 (self.result.failed if self.result else [])],
            "started": _iso(self.started),
            "finished": _iso(self.finished or time.time()),
        }


def _iso(t: float) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="microseconds")


def stack_name(paths: Iterable[str], explicit: str | None) -> str:
    from .sources import check_stack_name, default_stack_name
    return check_stack_name(explicit) if explicit else default_stack_name(paths)


def load(engine: "Engine", paths: list[str], *, stack: str | None = None, values: Iterable[str] = (),
         sets: Iterable[str] = ()) -> "Desired":
    from . import desired as ds
    from .sources import collect
    name = stack_name(paths, stack)
    inputs = collect(paths, values_files=values, sets=sets)
    return ds.build(engine, inputs, name)


def diff(engine: "Engine", desired: "Desired", *, prune: bool = False, prune_volumes: bool = False,
         snap: "Snapshot | None" = None) -> Plan:
    from .observe import observe
    snapshot = snap if snap is not None else observe(engine, desired.stack)
    specs = st.SpecStore(str(engine.paths.root))
    return plan(desired, snapshot, prune=prune, prune_volumes=prune_volumes, old_spec=specs.get)


def apply(engine: "Engine", desired: "Desired", options: ApplyOptions | None = None, *,
          progress: "Callable[[Outcome, str], None] | None" = None) -> Report:
    o = options or ApplyOptions()
    root = str(engine.paths.root)
    with st.lock(root, desired.stack, wait=o.wait_lock):
        report = Report(desired.stack, Plan(desired.stack))
        t0 = time.perf_counter()
        report.plan = diff(engine, desired, prune=o.prune, prune_volumes=o.prune_volumes)
        report.timings["plan"] = time.perf_counter() - t0
        if report.plan.errors:
            raise ConfigError("; ".join(report.plan.errors))
        if o.dry_run or not report.plan.changed and not o.wait:
            report.finished = time.time()
            return report
        t0 = time.perf_counter()
        report.result = execute(engine, desired, report.plan,
                                ExecOptions(parallel=o.parallel, timeout=o.timeout, wait=o.wait),
                                progress=progress)
        report.timings["execute"] = time.perf_counter() - t0
        if report.plan.changed:
            _gc_specs(engine)
        report.finished = time.time()
    return report


def _gc_specs(engine: "Engine") -> None:
    from .observe import observe
    snap = observe(engine)
    st.SpecStore(str(engine.paths.root)).keep_only({o.hash for o in snap.objects if o.hash})


# ---- stacks and delete ----------------------------------------------------------------------

def stacks(engine: "Engine") -> list[dict[str, Any]]:
    """Every stack with objects on this host: counts per kind and a status."""
    from .observe import observe
    snap = observe(engine)
    out = []
    for name in snap.stacks():
        objs = [o for o in snap.objects if o.stack == name]
        kinds: dict[str, int] = {}
        for o in objs:
            kinds[o.kind] = kinds.get(o.kind, 0) + 1
        ctrs = [o for o in objs if o.kind == "container"]
        running = sum(1 for o in ctrs if o.status in ("running", "paused"))
        status = "running" if ctrs and running == len(ctrs) else ("degraded" if running else
                                                                     ("stopped" if ctrs else "no containers"))
        out.append({"Name": name, "Resources": len(objs), "Kinds": dict(sorted(kinds.items())),
                    "Containers": len(ctrs), "Running": running, "Status": status,
                    "Sources": sorted({o.labels.get(st.L_SOURCE, "") for o in objs} - {""})})
    return out


def delete(engine: "Engine", name: str, *, volumes: bool = False, wait_lock: bool = True,
           progress: "Callable[[Outcome, str], None] | None" = None) -> Report:
    """Remove every object ``name`` owns, dependents first; volumes only with ``volumes``."""
    from .execute import _Runner
    from .graph import RANK, Desired
    from .observe import observe
    from .plan import kept

    root = str(engine.paths.root)
    with st.lock(root, name, wait=wait_lock):
        snap = observe(engine, name)
        p = Plan(name)
        for rid, objs in snap.owned(name).items():
            for o in objs:
                if o.kind == "volume" and not volumes:
                    p.actions.append(Action("keep", o.kind, o.name, "volumes are removed only with --volumes",
                                            ids=(o.id,)))
                elif kept(o) and o.kind in ("volume", "config"):
                    p.actions.append(Action("keep", o.kind, o.name, "io.podium.prune: disabled", ids=(o.id,)))
                else:
                    p.actions.append(Action("remove", o.kind, o.name, "stack deleted", ids=(o.id,)))
        p.actions.sort(key=lambda a: (-RANK.get(a.kind, 0), a.name))
        report = Report(name, p)
        runner = _Runner(engine, Desired(name), ExecOptions(parallel=1), progress or (lambda o, ph: None))
        result = Result([Outcome(a) for a in p.actions])
        for outcome in result.outcomes:
            if outcome.action.action == "remove":
                runner.run(outcome, runner.remove)
        report.result = result
        report.finished = time.time()
        if result.failed:
            first = result.failed[0]
            raise RuntimeFailure(f"delete {name}: {first.action.rid}: {first.error}")
        import shutil
        if not any(o.stack == name for o in observe(engine).objects):
            shutil.rmtree(st.files_dir(root, name), ignore_errors=True)
        _gc_specs(engine)
    return report
