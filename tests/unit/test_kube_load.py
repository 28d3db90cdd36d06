"""Loading Kubernetes YAML: schema checks with file:line:column, --validate modes, kinds."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from podium.declare.kube.loader import load
from podium.declare.yamlload import format_path, load_documents
from podium.engine.errors import ConfigError

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: a
    image: busybox
  - name: b
    image: busybox
    ports:
    - containerPort: 80
"""


def write(tmp_path: Path, text: str, name: str = "pod.yaml") -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


def error_of(tmp_path: Path, text: str, **kw) -> str:  # noqa: ANN003
    with pytest.raises(ConfigError) as exc:
        load([write(tmp_path, text)], **kw)
    return str(exc.value)


def test_format_path() -> None:
    assert format_path(("spec", "containers", 1, "ports", 0, "containerPort")) == \
        "spec.containers[1].ports[0].containerPort"
    assert format_path(()) == ""


def test_loads_a_pod(tmp_path: Path) -> None:
    loaded = load([write(tmp_path, POD)])
    [obj] = loaded.objects
    assert (obj.kind, obj.name) == ("Pod", "web")
    assert [c.name for c in obj.model.spec.containers] == ["a", "b"]
    assert obj.model.spec.containers[1].ports[0].container_port == 80
    assert obj.model.metadata.labels == {"app": "web"}
    assert loaded.warnings == []


def test_wrong_type_names_file_line_column_and_field(tmp_path: Path) -> None:
    msg = error_of(tmp_path, POD.replace("containerPort: 80", 'containerPort: "eighty"'))
    assert msg.startswith(f"{tmp_path}/pod.yaml:13:22: spec.containers[1].ports[0].containerPort: expected integer")


def test_missing_required_field(tmp_path: Path) -> None:
    msg = error_of(tmp_path, POD.replace("  - name: b\n", "  - nam: b\n"))
    assert ":10:5: spec.containers[1]: missing required field 'name'" in msg


def test_enum_and_range(tmp_path: Path) -> None:
    msg = error_of(tmp_path, POD.replace("containerPort: 80", "containerPort: 70000"))
    assert "containerPort: value 70000 out of range" in msg
    msg = error_of(tmp_path, POD + "  restartPolicy: Sometimes\n")
    assert ":14:18: spec.restartPolicy: unsupported value 'Sometimes'" in msg


def test_invalid_names(tmp_path: Path) -> None:
    msg = error_of(tmp_path, POD.replace("name: web", "name: Web_1"))
    assert ":4:9: metadata.name: invalid name 'Web_1'" in msg


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n")
    assert msg.startswith(f"{tmp_path}/pod.yaml:4:1: invalid YAML")
    msg = error_of(tmp_path, "apiVersion: v1\nkind: Pod\nkind: Pod\n")
    assert ":3:1: invalid YAML: found duplicate key" in msg
    msg = error_of(tmp_path, "apiVersion: v1\n  kind: Pod\n")
    assert ":2:7: invalid YAML: mapping values are not allowed here" in msg


def test_document_must_be_an_object(tmp_path: Path) -> None:
    assert "expected a Kubernetes object" in error_of(tmp_path, "- a\n- b\n")
    assert ":1:1: missing required field 'kind'" in error_of(tmp_path, "apiVersion: v1\n")
    assert "unsupported apiVersion 'apps/v1beta1' for Deployment" in error_of(
        tmp_path, "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: x}\n")


def test_unknown_kind_and_fields_warn_by_name(tmp_path: Path) -> None:
    text = POD.replace("  - name: a\n", "  - name: a\n    lifecycle: {preStop: {}}\n") + textwrap.dedent("""\
      nodeSelector: {disk: ssd}
    ---
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    """)
    path = write(tmp_path, text)
    loaded = load([path])
    assert loaded.warnings == [
        f"{path}:9:5: spec.containers[0].lifecycle: unsupported field (ignored)",
        f"{path}:18:1: kind: unsupported kind 'CronJob' (ignored)",
    ]  # nodeSelector is accepted and ignored on purpose (one node): no warning
    assert load([path], validate="ignore").warnings == []
    with pytest.raises(ConfigError) as exc:
        load([path], validate="strict")
    assert str(exc.value) == (f"{path}:9:5: spec.containers[0].lifecycle: unsupported field "
                              "(refused by --validate=strict)")
    with pytest.raises(ConfigError):
        load([path], validate="loud")


def test_multi_document_directory_and_stdin(tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n"
    write(tmp_path, POD, "b.yaml")
    write(tmp_path, cm + "---\n---\n", "a.yml")
    write(tmp_path, "not yaml at all: [", "notes.txt")
    loaded = load([str(tmp_path)])
    assert [(o.kind, o.name) for o in loaded.objects] == [("ConfigMap", "cfg"), ("Pod", "web")]
    loaded = load(["-"], stdin=io.StringIO(POD))
    assert loaded.objects[0].doc.source == "<stdin>"
    with pytest.raises(ConfigError) as exc:
        load([str(tmp_path / "nope.yaml")])
    assert "no such file" in str(exc.value)


def test_yaml_1_1_octal_modes_like_kubernetes(tmp_path: Path) -> None:
    docs = load_documents("defaultMode: 0644\nmode: 0o600\nflag: yes\n---\nlater: {mode: 0640}\n", "x.yaml")
    assert docs[0].data == {"defaultMode": 0o644, "mode": "0o600", "flag": True}
    assert docs[1].data == {"later": {"mode": 0o640}}  # every document, not just the first


def test_same_object_twice_is_an_error(tmp_path: Path) -> None:
    msg = error_of(tmp_path, POD + "---\n" + POD)
    assert ":18:9: metadata.name: Pod 'web' is declared twice" in msg


def test_configmap_files(tmp_path: Path) -> None:
    pod = write(tmp_path, POD)
    cm = write(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n", "cm.yaml")
    loaded = load([pod], configmaps=[cm])
    assert [o.kind for o in loaded.objects] == ["Pod", "ConfigMap"]
    with pytest.raises(ConfigError) as exc:
        load([pod], configmaps=[pod])
    assert "--configmap files may hold ConfigMaps and Secrets only" in str(exc.value)
    both = write(tmp_path, POD + "---\n" + open(cm).read(), "both.yaml")
    with pytest.raises(ConfigError) as exc:
        load([both], configmaps=[cm])
    assert "ambiguous configuration" in str(exc.value)


def test_every_kind_loads(tmp_path: Path) -> None:
    text = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: d}
    spec:
      replicas: 2
      selector: {matchLabels: {app: d}}
      template:
        metadata: {labels: {app: d}}
        spec: {containers: [{name: c, image: busybox}]}
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: ds}
    spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata: {name: j}
    spec: {backoffLimit: 2, template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: s}
    data: {k: aGVsbG8=}
    ---
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: claim}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: svc}
    spec: {type: NodePort, selector: {app: d}, ports: [{port: 80, targetPort: http, nodePort: 30080}]}
    """
    loaded = load([write(tmp_path, text)])
    assert [o.kind for o in loaded.objects] == ["Deployment", "DaemonSet", "Job", "Secret",
                                                "PersistentVolumeClaim", "Service"]
    assert loaded.warnings == []
    assert loaded.objects[0].model.spec.replicas == 2
    assert loaded.objects[2].model.spec.backoff_limit == 2
    assert loaded.objects[5].model.spec.ports[0].target_port == "http"


def test_ps_does_not_import_the_declarative_stack(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import sys
        from podium.cli.main import dispatch
        dispatch(["ps", "-a"])
        heavy = sorted(m for m in ("pydantic", "jsonschema", "ruamel", "ruamel.yaml", "networkx", "httpx")
                       if m in sys.modules)
        print("HEAVY:" + ",".join(heavy))
    """)
    env = {**os.environ, "PODIUM_ROOT": str(tmp_path / "root"), "PODIUM_RUNROOT": str(tmp_path / "run")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                         cwd=str(Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    assert "HEAVY:\n" in out.stdout
