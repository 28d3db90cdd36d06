"""``podium apply``, ``diff``, ``stacks`` and ``delete``: the reconciler's front door.

Thin: parse the flags, call podium.declare.reconcile, print. ``diff`` follows
kubectl's exit codes (0 no changes, 1 changes, 2 error) so CI can gate on it;
``apply`` exits 0 when the host matches and 125 naming the failed resource
otherwise. Progress is one plain line per finished action (CI logs); on a
terminal a status line shows what is running meanwhile.
"""

from __future__ import annotations

import argparse
import json
import sys

from .command import Command, Parser, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAST = {"create": "created", "recreate": "recreated", "start": "started", "update": "updated",
        "remove": "removed", "noop": "unchanged", "keep": "kept"}
ING = {"create": "creating", "recreate": "recreating", "start": "starting", "update": "updating",
       "remove": "removing"}


def _inputs(p: Parser, *, required: bool = True) -> None:
    p.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="PATH",
                   help="a Kubernetes YAML or compose file, a *.j2 template or a directory of them "
                        "(recursive); repeatable")
    p.add_argument("paths", nargs="*", metavar="PATH", help=argparse.SUPPRESS)
    p.add_argument("--stack", metavar="NAME", help="the stack's name (default: the first path's directory name)")
    p.add_argument("--values", action="append", default=[], metavar="FILE", help="a YAML file of values for *.j2 templates; repeatable")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="a template value KEY=VALUE (dotted keys nest); repeatable")


def _paths(a: argparse.Namespace) -> list[str]:
    from podium.engine.errors import ConfigError
    paths = list(a.files) + list(a.paths)
    if not paths:
        raise ConfigError("no input: name files or directories with -f PATH")
    return paths


def _duration(value: str) -> float:
    from podium.engine.errors import ConfigError
    v = value.strip()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if v.endswith(u) and v[:-len(u)].replace(".", "", 1).isdigit():
            return float(v[:-len(u)]) * units[u]
    if v.replace(".", "", 1).isdigit():
        return float(v)
    raise ConfigError(f"invalid duration {value!r}: use seconds or 30s, 5m, 1h")


class Progress:
    """Plain lines for logs; on a terminal, also a status line of what is in flight."""

    def __init__(self, *, json_mode: bool, quiet: bool) -> None:
        import threading
        self.out = sys.stderr if json_mode else sys.stdout
        self.silent = quiet
        self.tty = self.out.isatty() and not json_mode
        self.lock = threading.Lock()
        self.running: dict[str, str] = {}
        self.done = 0

    def __call__(self, outcome: Any, phase: str) -> None:
        if self.silent:
            return
        a = outcome.action
        with self.lock:
            if phase == "start":
                self.running[a.rid] = ING.get(a.action, a.action)
            else:
                self.running.pop(a.rid, None)
                if a.action in ("noop", "keep") and outcome.status == "done":
                    return
                self.done += 1
                if outcome.status == "done":
                    line = f"{PAST.get(a.action, a.action):<10} {a.rid}"
                    if a.cause:
                        line += f"  ({a.cause})"
                    line += f"  {outcome.seconds:.2f}s"
                elif outcome.status == "skipped":
                    line = f"{'skipped':<10} {a.rid}  ({outcome.error})"
                else:
                    line = f"{'FAILED':<10} {a.action} {a.rid}: {outcome.error}"
                self._clear()
                self.out.write(line + "\n")
            self._status()
            self.out.flush()

    def _clear(self) -> None:
        if self.tty:
            self.out.write("\r\033[K")

    def _status(self) -> None:
        if self.tty:
            self._clear()
            if self.running:
                items = ", ".join(f"{v} {k}" for k, v in list(self.running.items())[:3])
                more = f" (+{len(self.running) - 3})" if len(self.running) > 3 else ""
                self.out.write(f"… {items}{more}")

    def finish(self) -> None:
        if self.tty and not self.silent:
            self._clear()
            self.out.flush()


def _warn(lines: list[str]) -> None:
    for w in lines:
        sys.stderr.write(f"Warning: {w}\n")
    sys.stderr.flush()


# ---- diff -----------------------------------------------------------------------------------

def _diff_args(p: Parser) -> None:
    _inputs(p)
    flag(p, "--prune", help="plan the removal of what the stack owns but no file declares")
    flag(p, "--prune-volumes", help="with --prune, volumes too")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    flag(p, "-v", "--verbose", help="also list the unchanged resources")


def do_diff(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import PodiumError

    from .command import print_error
    try:
        from podium.declare import reconcile
        paths = _paths(a)
        desired = reconcile.load(g.engine, paths, stack=a.stack, values=a.values, sets=a.sets)
        plan = reconcile.diff(g.engine, desired, prune=a.prune, prune_volumes=a.prune_volumes)
    except PodiumError as exc:
        print_error(exc)
        return 2
    report = reconcile.Report(desired.stack, plan)
    if a.format == "json":
        print(json.dumps(report.to_json(dry_run=True, command="diff"), indent=2))
    else:
        sys.stdout.write(plan.text(verbose=a.verbose))
        if plan.errors:
            for e in plan.errors:
                sys.stderr.write(f"Error: {e}\n")
    if plan.errors:
        return 2
    return 1 if plan.changed else 0


# ---- apply ----------------------------------------------------------------------------------

def _apply_args(p: Parser) -> None:
    _inputs(p)
    flag(p, "--prune", help="remove containers, pods, networks and configs the stack owns but no file declares")
    flag(p, "--prune-volumes", help="with --prune, remove such volumes too (their data is lost)")
    flag(p, "--dry-run", help="plan only: print what would be done")
    flag(p, "--wait", help="wait until every container runs (healthy, if it has a health check)")
    p.add_argument("--timeout", default="300s", metavar="DURATION", help="bound on waits (conditions, --wait); default 300s")
    p.add_argument("--parallel", type=int, default=4, metavar="N",
                   help="independent branches run N at a time (default 4)")
    flag(p, "--no-wait-lock", help="fail at once if another apply of the stack is running")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    flag(p, "-q", "--quiet", help="print only the summary and errors")


def do_apply(a: argparse.Namespace, g: Any) -> int:
    from podium.declare import reconcile
    from podium.engine.errors import ConfigError, RuntimeFailure

    if a.parallel < 1:
        raise ConfigError("--parallel must be at least 1")
    paths = _paths(a)
    desired = reconcile.load(g.engine, paths, stack=a.stack, values=a.values, sets=a.sets)
    json_mode = a.format == "json"
    if not json_mode:
        _warn(desired.warnings)
    progress = Progress(json_mode=json_mode, quiet=a.quiet)
    opts = reconcile.ApplyOptions(prune=a.prune, prune_volumes=a.prune_volumes, dry_run=a.dry_run,
                                  wait=a.wait, timeout=_duration(a.timeout), parallel=a.parallel,
                                  wait_lock=not a.no_wait_lock)
    try:
        report = reconcile.apply(g.engine, desired, opts, progress=progress)
    finally:
        progress.finish()
    if json_mode:
        print(json.dumps(report.to_json(dry_run=a.dry_run), indent=2))
    else:
        if a.dry_run:
            sys.stdout.write(report.plan.text())
        else:
            for act in report.plan.actions:
                if act.action == "keep" and not a.quiet:
                    print(f"{'kept':<10} {act.rid}  ({act.cause})")
            for w in report.plan.warnings:
                if w not in desired.warnings:
                    sys.stderr.write(f"Warning: {w}\n")
            if not report.plan.changed:
                print("no changes")
            print(report.plan.summary())
    failed = report.result.failed if report.result else []
    if failed:
        first = failed[0]
        others = [o.action.rid for o in failed[1:]]
        raise RuntimeFailure(f"{first.action.rid}: {first.action.action} failed: {first.error}"
                             + (f" (also failed or skipped: {', '.join(others)})" if others else ""))
    return 0


# ---- stacks ---------------------------------------------------------------------------------

def _stacks_args(p: Parser) -> None:
    p.add_argument("--format", help="json, or a Go template such as '{{.Name}}'")
    flag(p, "-q", "--quiet", help="print the names only")


def do_stacks(a: argparse.Namespace, g: Any) -> int:
    from podium.declare import reconcile
    rows = reconcile.stacks(g.engine)
    if a.quiet:
        for r in rows:
            print(r["Name"])
        return 0
    if a.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if a.format:
        from .format import render
        for r in rows:
            print(render(a.format, r))
        return 0
    print(f"{'NAME':<24} {'RESOURCES':<10} {'CONTAINERS':<11} {'STATUS':<14} KINDS")
    for r in rows:
        kinds = ", ".join(f"{k}={n}" for k, n in r["Kinds"].items())
        print(f"{r['Name']:<24} {r['Resources']:<10} {str(r['Running']) + '/' + str(r['Containers']):<11} "
              f"{r['Status']:<14} {kinds}")
    return 0


# ---- delete ---------------------------------------------------------------------------------

def _delete_args(p: Parser) -> None:
    p.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="PATH",
                   help="the files of the stack (its name is taken from them)")
    p.add_argument("paths", nargs="*", metavar="PATH", help=argparse.SUPPRESS)
    p.add_argument("--stack", metavar="NAME", help="the stack's name")
    flag(p, "--volumes", help="remove the stack's volumes too (their data is lost)")
    flag(p, "--no-wait-lock", help="fail at once if an apply of the stack is running")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    flag(p, "-q", "--quiet", help="print only the summary and errors")


def do_delete(a: argparse.Namespace, g: Any) -> int:
    from podium.declare import reconcile
    from podium.engine.errors import ConfigError, NotFound

    paths = list(a.files) + list(a.paths)
    if not paths and not a.stack:
        raise ConfigError("name the stack: delete --stack NAME or delete -f PATH")
    name = reconcile.stack_name(paths, a.stack)
    if name not in {r["Name"] for r in reconcile.stacks(g.engine)}:
        raise NotFound(f"stack {name!r} has nothing on this host: no such stack (podium stacks lists them)")
    json_mode = a.format == "json"
    progress = Progress(json_mode=json_mode, quiet=a.quiet)
    try:
        report = reconcile.delete(g.engine, name, volumes=a.volumes, wait_lock=not a.no_wait_lock,
                                  progress=progress)
    finally:
        progress.finish()
    if json_mode:
        print(json.dumps(report.to_json(command="delete"), indent=2))
        return 0
    for act in report.plan.actions:
        if act.action == "keep" and not a.quiet:
            print(f"{'kept':<10} {act.rid}  ({act.cause})")
    counts = report.plan.counts()
    print(f"stack {name!r}: {counts['remove']} removed, {counts['keep']} kept")
    return 0


COMMANDS: dict[str, Command] = {
    "apply": Command(do_apply, _apply_args, "Make the host match a stack of Kubernetes YAML and compose files."),
    "diff": Command(do_diff, _diff_args, "Show what apply would change (exit 0: nothing, 1: changes, 2: error)."),
    "stacks": Command(do_stacks, _stacks_args, "List the stacks podium apply made, with counts and status."),
    "delete": Command(do_delete, _delete_args, "Remove everything a stack owns, dependents first."),
}
