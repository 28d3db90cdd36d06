"""plan(desired, observed): pure decisions with causes, and the stable text form (golden)."""

from __future__ import annotations

import pytest

from podium.declare.graph import Dep, Desired, Resource, field_diff
from podium.declare.observe import Observed, Snapshot
from podium.declare.plan import plan
from podium.declare.stack import L_PRUNE

STACK = "demo"


def desired() -> Desired:
    d = Desired(STACK)
    d.add(Resource("network", "net", "compose.yaml", {"labels": {"a": "b"}}))
    d.add(Resource("volume", "data", "compose.yaml", {"labels": {}}))
    d.add(Resource("container", "demo-db-1", "compose.yaml", {"image_id": "i1", "env": {"ROLE": "db"}},
                   deps=[Dep("network/net", hard=True), Dep("volume/data")]))
    d.add(Resource("container", "demo-api-1", "compose.yaml", {"image_id": "i1", "env": {"ROLE": "api"}},
                   deps=[Dep("network/net", hard=True), Dep("container/demo-db-1", "healthy", hard=True)]))
    d.add(Resource("container", "demo-web-1", "compose.yaml", {"image_id": "i1", "env": {"ROLE": "web"}},
                   deps=[Dep("network/net", hard=True), Dep("container/demo-api-1", "started")]))
    d.add(Resource("pod", "p", "pod.yaml", {"containers": {"p-a": {"image_id": "i1"}}},
                   deps=[Dep("network/net", hard=True)]))
    d.add(Resource("init", "p-init", "pod.yaml", {"image_id": "i1"}, deps=[Dep("pod/p", hard=True)],
                   one_shot=True))
    d.add(Resource("container", "p-a", "pod.yaml", {"image_id": "i1"},
                   deps=[Dep("pod/p", hard=True), Dep("init/p-init", "completed")]))
    return d


def observed(d: Desired, *, stack: str = STACK, status: str = "running", **over: dict) -> Snapshot:
    snap = Snapshot()
    for r in d.resources.values():
        o = Observed(r.kind, r.name, f"id-{r.name}", r.name, stack=stack, hash=r.hash)
        if r.kind in ("container", "init"):
            o.status = "exited" if r.one_shot else status
        if r.kind == "pod":
            o.status = "running"
        for k, v in over.get(r.rid, {}).items():
            setattr(o, k, v)
        fam = {"init": "container", "config": "volume"}.get(r.kind, r.kind)
        snap.add(o, fam)
    return snap


def test_first_apply_creates_everything_in_dependency_order() -> None:
    d = desired()
    p = plan(d, Snapshot())
    assert [a.action for a in p.actions] == ["create"] * 8
    order = [a.rid for a in p.actions]
    assert order.index("network/net") < order.index("container/demo-db-1") < order.index("container/demo-api-1")
    assert order.index("pod/p") < order.index("init/p-init") < order.index("container/p-a")
    assert p.changed and p.summary() == "8 to create, 0 to recreate, 0 to remove, 0 unchanged"


def test_converged_host_is_no_changes() -> None:
    d = desired()
    p = plan(d, observed(d))
    assert not p.changed
    assert {a.action for a in p.actions} == {"noop"}
    assert p.text() == "no changes\n0 to create, 0 to recreate, 0 to remove, 8 unchanged\n"


def test_changed_env_recreates_it_and_hard_dependents_only_with_field_cause() -> None:
    d = desired()
    snap = observed(d)
    old_db = dict(d.resources["container/demo-db-1"].spec)
    d2 = desired()
    d2.resources["container/demo-db-1"].spec["env"] = {"ROLE": "primary"}
    specs = {d.resources["container/demo-db-1"].hash: old_db}
    p = plan(d2, snap, old_spec=specs.get)
    changes = {a.rid: a for a in p.changes()}
    assert set(changes) == {"container/demo-db-1", "container/demo-api-1"}   # web's dep on api is soft
    assert changes["container/demo-db-1"].cause == "config changed: env.ROLE"
    assert changes["container/demo-api-1"].cause == "container/demo-db-1 replaced"
    assert "-    \"ROLE\": \"db\"" in changes["container/demo-db-1"].diff
    assert not changes["container/demo-db-1"].replace_first   # a container: temporary name first
    text = p.text()
    assert text.splitlines()[0] == "recreate container/demo-db-1  (config changed: env.ROLE)"
    assert text.endswith("0 to create, 2 to recreate, 0 to remove, 6 unchanged\n")


def test_image_changed_cause() -> None:
    d = desired()
    snap = observed(d)
    old = dict(d.resources["container/demo-web-1"].spec)
    d2 = desired()
    d2.resources["container/demo-web-1"].spec["image_id"] = "i2"
    p = plan(d2, snap, old_spec={d.resources["container/demo-web-1"].hash: old}.get)
    [a] = p.changes()
    assert (a.action, a.cause) == ("recreate", "image changed")


def test_unknown_old_spec_still_recreates() -> None:
    d = desired()
    snap = observed(d)
    d2 = desired()
    d2.resources["container/demo-web-1"].spec["env"] = {"X": "1"}
    [a] = plan(d2, snap).changes()
    assert (a.action, a.cause, a.diff) == ("recreate", "config changed", "")


def test_pod_recreate_replaces_members_first() -> None:
    d = desired()
    snap = observed(d)
    d2 = desired()
    d2.resources["pod/p"].spec["containers"] = {"p-a": {"image_id": "i1", "env": {"A": "1"}}}
    p = plan(d2, snap)
    changes = {a.rid: a for a in p.changes()}
    assert set(changes) == {"pod/p", "init/p-init", "container/p-a"}
    assert all(a.replace_first for a in changes.values())


def test_drift_stopped_and_removed() -> None:
    d = desired()
    snap = observed(d, **{"container/demo-web-1": {"status": "exited", "exit_code": 137}})
    snap.objects = [o for o in snap.objects if o.name != "demo-api-1"]
    snap.by_name.pop("container/demo-api-1")
    p = plan(d, snap)
    assert [(a.action, a.rid, a.cause) for a in p.changes()] == [
        ("create", "container/demo-api-1", "not on the host"),
        ("start", "container/demo-web-1", "not running (exited)"),
    ]


def test_completed_init_is_noop_failed_one_is_started() -> None:
    d = desired()
    assert not plan(d, observed(d)).changed
    p = plan(d, observed(d, **{"init/p-init": {"exit_code": 1}}))
    assert [(a.action, a.rid) for a in p.changes()] == [("start", "init/p-init")]


def test_orphans_kept_without_prune_removed_with_it_volumes_need_prune_volumes() -> None:
    d = desired()
    snap = observed(d)
    for o in (Observed("container", "old-1", "id-old", "old-1", stack=STACK, hash="h", status="running"),
              Observed("volume", "olddata", "olddata", "olddata", stack=STACK, hash="h"),
              Observed("network", "oldnet", "id-on", "oldnet", stack=STACK, hash="h"),
              Observed("container", "precious", "id-p", "precious", stack=STACK, hash="h",
                       labels={L_PRUNE: "disabled"})):
        snap.add(o, o.kind)
    p = plan(d, snap)
    assert not p.changed
    assert {a.rid: a.action for a in p.actions if a.action == "keep"} == {
        "container/old-1": "keep", "volume/olddata": "keep", "network/oldnet": "keep", "container/precious": "keep"}
    p = plan(d, snap, prune=True)
    acts = {a.rid: (a.action, a.cause) for a in p.actions if a.action in ("keep", "remove")}
    assert acts["container/old-1"] == ("remove", "absent from desired state")
    assert acts["network/oldnet"][0] == "remove"
    assert acts["volume/olddata"][0] == "keep" and "--prune-volumes" in acts["volume/olddata"][1]
    assert acts["container/precious"] == ("keep", "absent from desired state, kept: io.podium.prune: disabled")
    # removals come first, dependents before what they use
    removes = [a.rid for a in p.actions if a.action == "remove"]
    assert removes == ["container/old-1", "network/oldnet"]
    p = plan(d, snap, prune=True, prune_volumes=True)
    assert ("remove", "volume/olddata") in [(a.action, a.rid) for a in p.actions]


def test_unowned_or_foreign_name_is_an_error_never_touched() -> None:
    d = desired()
    snap = Snapshot()
    snap.add(Observed("container", "demo-db-1", "id-x", "demo-db-1"), "container")
    snap.add(Observed("network", "net", "id-n", "net", stack="other", hash="h"), "network")
    p = plan(d, snap)
    assert len(p.errors) == 2
    assert any(e.startswith("container name 'demo-db-1' (declared in compose.yaml) is taken by a container "
                            "owned by no stack") for e in p.errors)
    assert any(e.startswith("network name 'net' (declared in compose.yaml) is taken by a network owned by "
                            "stack 'other'") for e in p.errors)
    assert not any(a.rid in ("container/demo-db-1", "network/net") and a.action != "noop" for a in p.actions)


def test_leftover_of_interrupted_recreate_is_removed() -> None:
    d = desired()
    snap = observed(d)
    snap.add(Observed("container", "demo-web-1", "id-tmp", "abcdef123456_demo-web-1", stack=STACK,
                      hash=d.resources["container/demo-web-1"].hash, status="created"), "container")
    p = plan(d, snap)
    [a] = p.changes()
    assert (a.action, a.rid, a.ids) == ("remove", "container/demo-web-1", ("id-tmp",))
    assert "interrupted" in a.cause


def test_config_content_update() -> None:
    d = Desired(STACK)
    d.add(Resource("config", "p/secrets/pw.444..", "c.yaml", {"sha256": "new", "mode": 0o444, "uid": None,
                                                              "gid": None}))
    snap = Snapshot()
    snap.objects.append(Observed("config", "p/secrets/pw.444..", "/x", "p/secrets/pw.444..", stack=STACK,
                                 files={"sha256": "old", "mode": 0o444, "uid": None, "gid": None}))
    [a] = plan(d, snap).changes()
    assert (a.action, a.cause) == ("update", "content changed: sha256")


@pytest.mark.parametrize("old,new,fields", [
    ({"env": {"A": "1"}}, {"env": {"A": "2"}}, ["env.A"]),
    ({"env": {"A": "1"}}, {"env": {"A": "1", "B": "2"}}, ["env.B"]),
    ({"command": ["a"]}, {"command": ["b"]}, ["command"]),
    ({"x": 1}, {"x": 1}, []),
])
def test_field_diff(old: dict, new: dict, fields: list[str]) -> None:
    assert field_diff(old, new) == fields


def test_created_never_started_is_started_with_its_cause() -> None:
    d = desired()
    [a] = plan(d, observed(d, **{"container/demo-web-1": {"status": "created"}})).changes()
    assert (a.action, a.rid, a.cause) == ("start", "container/demo-web-1",
                                          "created but never started (interrupted apply?)")


def test_renamed_by_hand_is_replaced_under_its_name() -> None:
    d = desired()
    snap = observed(d)
    snap.objects = [o for o in snap.objects if o.name != "demo-web-1"]
    snap.by_name.pop("container/demo-web-1")
    snap.add(Observed("container", "demo-web-1", "id-r", "my-web", stack=STACK,
                      hash=d.resources["container/demo-web-1"].hash, status="running"), "container")
    assert [(a.action, a.rid, a.cause) for a in plan(d, snap).changes()] == [
        ("remove", "container/demo-web-1", "found as my-web (renamed outside podium apply)"),
        ("create", "container/demo-web-1", "not on the host"),
    ]


def test_pod_without_infra_container_is_recreated_with_its_members() -> None:
    d = desired()
    p = plan(d, observed(d, **{"pod/p": {"status": ""}}))
    changes = {a.rid: (a.action, a.cause) for a in p.changes()}
    assert changes == {"pod/p": ("recreate", "incomplete: no infra container (interrupted apply?)"),
                       "init/p-init": ("recreate", "pod/p replaced"),
                       "container/p-a": ("recreate", "pod/p replaced")}


def test_replicas_beyond_the_count_are_scaled_down_without_prune() -> None:
    from podium.declare.stack import L_GROUP
    d = Desired(STACK)
    d.add(Resource("container", "demo-web-1", "compose.yaml", {"image_id": "i"}, group="compose/demo/web"))
    snap = Snapshot()
    for n in (1, 2, 3):
        r = d.resources.get(f"container/demo-web-{n}")
        snap.add(Observed("container", f"demo-web-{n}", f"id{n}", f"demo-web-{n}", stack=STACK,
                          hash=r.hash if r else "h", status="running",
                          labels={L_GROUP: "compose/demo/web", **({L_PRUNE: "disabled"} if n == 3 else {})}),
                 "container")
    snap.add(Observed("container", "demo-old-1", "ido", "demo-old-1", stack=STACK, hash="h", status="running",
                      labels={L_GROUP: "compose/demo/old"}), "container")
    acts = {a.rid: (a.action, a.cause) for a in plan(d, snap).actions}
    assert acts["container/demo-web-2"] == ("remove", "scaled down (compose/demo/web has fewer replicas)")
    assert acts["container/demo-web-3"][0] == "keep"       # io.podium.prune: disabled still holds
    assert acts["container/demo-old-1"][0] == "keep"       # a service no file declares: only --prune
