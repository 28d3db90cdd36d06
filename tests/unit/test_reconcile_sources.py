"""Input discovery, templates, kind detection, the graph's cycle and duplicate errors, the stack lock."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from podium.declare import sources
from podium.declare.graph import Dep, Desired, Resource
from podium.declare.stack import lock
from podium.engine.errors import ConfigError, InUse

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: busybox}]\n"
COMPOSE = "services:\n  web:\n    image: busybox\n"


def write(d: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_walk_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    write(tmp_path, {"b/pod.yaml": POD, "a.yml": POD, ".hidden/x.yaml": POD, "notes.txt": "x",
                     "c/.git.yaml": POD, "z.yaml.j2": POD})
    got = [os.path.relpath(p, tmp_path) for p in sources.walk([str(tmp_path)])]
    assert got == ["a.yml", "b/pod.yaml", "z.yaml.j2"]


def test_kinds_by_name_and_content(tmp_path: Path) -> None:
    write(tmp_path, {"pod.yaml": POD, "app/compose.yaml": COMPOSE, "app/compose.override.yaml": "services: {}\n",
                     "other/stuff.yaml": COMPOSE})
    inputs = sources.collect([str(tmp_path)])
    assert [os.path.basename(s.path) for s in inputs.kube] == ["pod.yaml"]
    groups = {os.path.basename(g.directory): [os.path.basename(s.path) for s in g.files] for g in inputs.compose}
    assert groups == {"app": ["compose.yaml", "compose.override.yaml"], "other": ["stuff.yaml"]}


def test_neither_kube_nor_compose_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, {"pod.yaml": POD, "values.yaml": "replicas: 3\n"})
    with pytest.raises(ConfigError, match=r"values\.yaml: neither Kubernetes YAML .* nor a compose file"):
        sources.collect([str(tmp_path)])


def test_template_renders_with_values_and_set(tmp_path: Path) -> None:
    write(tmp_path, {"pod.yaml.j2": "apiVersion: v1\nkind: Pod\nmetadata: {name: {{ app.name }}}\n"
                                    "spec: {containers: [{name: a, image: {{ image }}}]}\n",
                     "vals/values.yaml": "app: {name: fromfile}\nimage: busybox\n"})
    inputs = sources.collect([str(tmp_path / "pod.yaml.j2")], values_files=[str(tmp_path / "vals/values.yaml")],
                             sets=["app.name=fromset"])
    [src] = inputs.kube
    assert "name: fromset" in src.text and "image: busybox" in src.text and src.template


def test_undefined_template_variable_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"pod.yaml.j2": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ nope }}\n"})
    path = str(tmp_path / "pod.yaml.j2")
    with pytest.raises(ConfigError) as exc:
        sources.collect([path])
    assert f"{path}:4" in str(exc.value) and "'nope' is undefined" in str(exc.value)


def test_bad_set_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid --set"):
        sources.load_values([], ["novalue"])
    with pytest.raises(ConfigError, match="no such file or directory"):
        sources.walk([str(tmp_path / "missing")])


def test_stack_names() -> None:
    assert sources.default_stack_name(["examples/stack"]) == "stack"
    assert sources.default_stack_name(["/x/My App/compose.yaml"]) == "myapp"
    with pytest.raises(ConfigError):
        sources.check_stack_name("Bad Name")


def test_cycle_names_the_cycle_and_files() -> None:
    d = Desired("s")
    d.add(Resource("container", "a", "one.yaml", {}, deps=[Dep("container/b")]))
    d.add(Resource("container", "b", "two.yaml", {}, deps=[Dep("container/a")]))
    with pytest.raises(ConfigError, match=r"dependency cycle: container/\w -> container/\w -> container/\w "
                                          r"\(declared in one\.yaml, two\.yaml\)"):
        d.order()


def test_same_resource_twice_names_both_files() -> None:
    d = Desired("s")
    d.add(Resource("volume", "data", "a/compose.yaml", {}))
    with pytest.raises(ConfigError, match=r"volume 'data' is declared twice, in a/compose\.yaml and b/pvc\.yaml"):
        d.add(Resource("volume", "data", "b/pvc.yaml", {}))
    # a reference to a declared resource is not a second declaration
    d.add(Resource("volume", "data", "c/pod.yaml", {}, external=True))


def _hold(root: str, ready: "multiprocessing.synchronize.Event", release: "multiprocessing.synchronize.Event") -> None:
    with lock(root, "s"):
        ready.set()
        release.wait(30)


def test_stack_lock_excludes_other_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(30)
        with pytest.raises(InUse, match=rf"stack 's' is being applied by another podium process \(pid {proc.pid}\)"):
            with lock(str(tmp_path), "s", wait=False):
                pass
    finally:
        release.set()
        proc.join(30)
    with lock(str(tmp_path), "s", wait=False):   # free again once the holder is gone
        pass
