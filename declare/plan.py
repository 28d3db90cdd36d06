"""(desired, observed, options) -> ``Plan``: typed actions with causes. Pure: no I/O.

Per desired resource, in dependency order:

* ``create``   nothing owned by the stack holds it (``not on the host``);
* ``recreate`` its config hash differs (``config changed: env.ROLE``, ``image
  changed``), or a hard dependency is being replaced (``pod/web replaced``);
* ``start``    it exists as desired but is not running (``not running (exited)``);
* ``update``   a config whose files differ from the desired content;
* ``noop``     equal hash and running as desired (or, for a one-shot, completed).

Owned objects no desired resource names are orphans: ``remove`` with
``prune`` (volumes only with ``prune_volumes``), else ``keep`` with the reason;
anything labelled or annotated ``io.podium.prune: disabled`` is always kept and
reported. Extra objects under one resource id (the temporary container of a
recreate interrupted by a kill) are removed. A name the stack wants that an
object of no stack, or of another stack, holds is an error: the plan has
``errors`` and nothing may be applied.

``old_spec(hash)`` returns the spec an object was created from (or None), to
name the changed fields; it is the only thing a caller injects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .graph import RANK, field_diff, unified
from .stack import L_GROUP, L_PRUNE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from .graph import Desired, Resource
    from .observe import Observed, Snapshot

ACTIONS = ("create", "recreate", "start", "update", "remove", "keep", "noop")
CHANGES = ("create", "recreate", "start", "update", "remove")
RUNNING = ("running", "paused", "stopping")
# a recreate of these parents takes their children down with them: the children cannot be
# made under a temporary name first
STRUCTURAL = ("pod", "network")


@dataclass
class Action:
    action: str
    kind: str
    name: str
    cause: str = ""
    ids: tuple[str, ...] = ()      # engine ids of the existing object(s)
    diff: str = ""                 # unified diff of the normalized spec (host -> desired)
    replace_first: bool = False    # recreate: remove the old one before making the new one
    source: str = ""

    @property
    def rid(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def changes(self) -> bool:
        return self.action in CHANGES

    def line(self) -> str:
        return f"{self.action:<8} {self.rid}" + (f"  ({self.cause})" if self.cause else "")

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "name": self.name, "resource": self.rid,
                "cause": self.cause, "diff": self.diff, "source": self.source}


@dataclass
class Plan:
    stack: str
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.changes]

    @property
    def changed(self) -> bool:
        return any(a.changes for a in self.actions)

    def counts(self) -> dict[str, int]:
        out = {a: 0 for a in ACTIONS}
        for a in self.actions:
            out[a.action] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        parts = [f"{c['create']} to create", f"{c['recreate']} to recreate"]
        if c["start"]:
            parts.append(f"{c['start']} to start")
        if c["update"]:
            parts.append(f"{c['update']} to update")
        parts += [f"{c['remove']} to remove", f"{c['noop']} unchanged"]
        if c["keep"]:
            parts.append(f"{c['keep']} kept")
        return ", ".join(parts)

    def text(self, *, diffs: bool = True, verbose: bool = False) -> str:
        """The stable text form: one line per action (noops with ``verbose``), diffs indented."""
        out = []
        for a in self.actions:
            if a.action == "noop" and not verbose:
                continue
            out.append(a.line())
            if diffs and a.diff:
                out += ["    " + ln for ln in a.diff.splitlines()]
        for w in self.warnings:
            out.append(f"warning: {w}")
        if not self.changed:
            out.append("no changes")
        out.append(self.summary())
        return "\n".join(out) + "\n"


def kept(o: "Observed") -> bool:
    return o.labels.get(L_PRUNE) == "disabled" or o.annotations.get(L_PRUNE) == "disabled"


def plan(desired: "Desired", snap: "Snapshot", *, prune: bool = False, prune_volumes: bool = False,
         old_spec: "Callable[[str], dict[str, Any] | None]" = lambda h: None) -> Plan:
    stack = desired.stack
    p = Plan(stack, warnings=list(desired.warnings))
    owned = snap.owned(stack)
    replaced: set[str] = set()
    removals: list[Action] = []
    gone: set[str] = set()
    ordered: list[Action] = []
    for rid in desired.order():
        r = desired.resources[rid]
        have = owned.get(rid, [])
        if r.external:
            if snap.holder(r.kind, r.name) is None:
                p.errors.append(f"{r.kind} {r.name!r} is used by {r.source} but no file of the stack declares "
                                f"it and it does not exist: declare it or create it first")
            ordered.append(Action("noop", r.kind, r.name, "external", source=r.source))
            continue
        primary = next((o for o in have if o.engine_name == r.name), None)
        for o in have:
            if o is not primary:
                temp = re.fullmatch(r"[0-9a-f]{12}_" + re.escape(r.name), o.engine_name)
                cause = (f"leftover {o.engine_name} of an interrupted apply" if temp else
                         f"found as {o.engine_name} (renamed outside podium apply)")
                removals.append(Action("remove", r.kind, r.name, cause, ids=(o.id,), source=r.source))
        if primary is None:
            holder = snap.holder(r.kind, r.name)
            if holder is not None and holder.stack != stack:
                owner = f"stack {holder.stack!r}" if holder.stack else "no stack (made outside podium apply)"
                p.errors.append(f"{r.kind} name {r.name!r} (declared in {r.source}) is taken by a "
                                f"{holder.kind} owned by {owner}: podium apply never touches it; remove or "
                                "rename it, or rename the resource")
                continue
            if holder is not None and holder.rid != rid and holder.id not in gone:
                # ours under another resource id (an init container became a container): it goes first
                removals.append(Action("remove", holder.kind, holder.name, f"replaced by {rid}",
                                       ids=(holder.id,), source=r.source))
                gone.add(holder.id)
            ordered.append(Action("create", r.kind, r.name, "not on the host", source=r.source))
            replaced.add(rid)
            continue
        a = _decide(r, primary, replaced, old_spec)
        if a.action == "recreate":
            replaced.add(rid)
            a.replace_first = r.replace_first or r.kind in STRUCTURAL or any(
                d.hard and d.rid in replaced and d.rid.split("/", 1)[0] in STRUCTURAL for d in r.deps)
        if a.action == "noop" and a.cause.startswith("volume config changed"):
            p.warnings.append(f"volume {r.name!r}: its options or labels changed, but a volume is never recreated "
                              "(its data would be lost): remove it by hand to apply the change")
        ordered.append(a)
    groups = {r.group for r in desired.resources.values() if r.group}
    for rid, objs in owned.items():
        if rid in desired.resources:
            continue
        for o in objs:
            if o.id in gone:
                continue
            if o.labels.get(L_GROUP) in groups and not kept(o):
                # a replica its still-declared workload no longer counts: compose's and a
                # Deployment's own scale-down, not a prune
                removals.append(Action("remove", o.kind, o.name, f"scaled down ({o.labels[L_GROUP]} has fewer "
                                       "replicas)", ids=(o.id,)))
                continue
            if not prune:
                removals.append(Action("keep", o.kind, o.name, "absent from desired state (apply --prune "
                                       "removes it)", ids=(o.id,)))
            elif kept(o):
                removals.append(Action("keep", o.kind, o.name, "absent from desired state, kept: "
                                       "io.podium.prune: disabled", ids=(o.id,)))
            elif o.kind == "volume" and not prune_volumes:
                removals.append(Action("keep", o.kind, o.name, "absent from desired state, kept: volumes "
                                       "are removed only with --prune-volumes", ids=(o.id,)))
            else:
                removals.append(Action("remove", o.kind, o.name, "absent from desired state", ids=(o.id,)))
    removals.sort(key=lambda a: (-RANK.get(a.kind, 0), a.name))
    p.actions = removals + ordered
    return p


def _decide(r: "Resource", o: "Observed", replaced: set[str],
            old_spec: "Callable[[str], dict[str, Any] | None]") -> Action:
    ids = (o.id,)
    if r.kind == "config":
        have = o.files or {}
        want = r.spec.get("files") if "files" in r.spec else r.spec
        if "files" in r.spec:
            differs = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        else:
            differs = sorted(k for k in want if have.get(k) != want.get(k) and k not in ("uid", "gid"))
        if differs:
            return Action("update", r.kind, r.name, "content changed: " + ", ".join(differs[:5])
                          + (" ..." if len(differs) > 5 else ""), ids=ids, source=r.source)
        return Action("noop", r.kind, r.name, "up to date", ids=ids, source=r.source)
    if o.hash != r.hash:
        old = old_spec(o.hash)
        if r.kind == "volume":
            return Action("noop", r.kind, r.name, "volume config changed, not recreated", ids=ids, source=r.source)
        if old is None:
            cause, diff = "config changed", ""
        else:
            fields = field_diff(old, r.spec)
            if fields == ["image_id"]:
                cause = "image changed"
            else:
                shown = [f for f in fields if f != "image_id"]
                cause = "config changed: " + ", ".join(shown[:6]) + (" ..." if len(shown) > 6 else "")
                if "image_id" in fields:
                    cause += " (and image changed)"
            diff = unified(old, r.spec, r.rid)
        return Action("recreate", r.kind, r.name, cause, ids=ids, diff=diff, source=r.source)
    forced = [d.rid for d in r.deps if d.hard and d.rid in replaced]
    if forced:
        return Action("recreate", r.kind, r.name, f"{forced[0]} replaced", ids=ids, source=r.source)
    if r.kind in ("container", "init"):
        if o.status in RUNNING:
            return Action("noop", r.kind, r.name, o.status, ids=ids, source=r.source)
        if r.one_shot and o.status == "exited" and o.exit_code == 0:
            return Action("noop", r.kind, r.name, "completed", ids=ids, source=r.source)
        if o.status == "created":   # apply starts what it makes: an interrupted apply left it
            return Action("start", r.kind, r.name, "created but never started (interrupted apply?)", ids=ids,
                          source=r.source)
        return Action("start", r.kind, r.name, f"not running ({o.status or 'unknown'})", ids=ids, source=r.source)
    if r.kind == "pod" and not o.status:   # a pod create killed before its infra container was made
        return Action("recreate", r.kind, r.name, "incomplete: no infra container (interrupted apply?)",
                      ids=ids, source=r.source, replace_first=True)
    if r.kind == "pod" and o.status not in RUNNING:
        return Action("start", r.kind, r.name, f"not running ({o.status or 'no infra container'})", ids=ids,
                      source=r.source)
    return Action("noop", r.kind, r.name, "up to date", ids=ids, source=r.source)
