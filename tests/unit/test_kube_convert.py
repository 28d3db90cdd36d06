"""Kubernetes objects -> engine specs (convert.py), with a stand-in for the engine's image store."""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import pytest

from podium.declare.kube import convert, quantity
from podium.declare.kube.loader import load
from podium.engine.errors import ConfigError, ImageNotFound


class FakeImages:
    configs = {"busybox": {"Cmd": ["sh"]}, "nobody": {"Cmd": ["sh"], "User": "65534"},
               "named": {"Entrypoint": ["/entry"], "Cmd": ["default"], "User": "www"}}

    def resolve(self, ref: str) -> str:
        if ref not in self.configs:
            raise ImageNotFound(f"{ref}: image not known")
        return ref

    def config_of(self, image: str) -> dict:
        return self.configs[image]

    def ensure(self, ref: str, policy: str | None = "missing") -> str:
        return self.resolve(ref)  # no registry here: a missing image stays missing


class FakeEngine:
    images = FakeImages()


def plan_of(tmp_path: Path, text: str, **options) -> convert.Plan:  # noqa: ANN003
    p = tmp_path / "k.yaml"
    p.write_text(textwrap.dedent(text))
    return convert.build(load([str(p)]), FakeEngine(), convert.Options(**options))


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        plan_of(tmp_path, text)
    return str(exc.value)


def pod(containers: str, extra: str = "", meta: str = "") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n{textwrap.indent(textwrap.dedent(meta), '  ')}"
            f"spec:\n{textwrap.indent(textwrap.dedent(extra), '  ')}  containers:\n"
            + textwrap.indent(textwrap.dedent(containers), "  "))


def one(tmp_path: Path, containers: str, extra: str = "", meta: str = "", more: str = ""):  # noqa: ANN201
    plan = plan_of(tmp_path, pod(containers, extra, meta) + more)
    return plan.pods[0].containers[0]


# ---- quantities -------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("128Mi", 128 * 2**20), ("1Gi", 2**30), ("1G", 1e9), ("500m", 0.5), ("2", 2), (3, 3),
    ("1e3", 1000), ("1.5Ki", 1536), ("100k", 1e5),
])
def test_quantities(value, expected) -> None:  # noqa: ANN001
    assert quantity.parse(value) == expected


def test_bad_quantity() -> None:
    with pytest.raises(ValueError):
        quantity.parse("12 apples")
    assert quantity.format_bytes(64 * 2**20) == "64Mi" and quantity.format_cpu(0.25) == "250m"


# ---- command and args ---------------------------------------------------------------------

@pytest.mark.parametrize("fields,entrypoint,command", [
    ("", None, None),                                          # the image's Entrypoint and Cmd
    ("command: [a, b]", ["a", "b"], []),                       # command replaces both
    ("args: [x]", None, ["x"]),                                 # the image's Entrypoint, args as Cmd
    ("command: [a]\n  args: [x, z]", ["a"], ["x", "z"]),
])
def test_command_and_args_follow_kubernetes(tmp_path: Path, fields: str, entrypoint, command) -> None:  # noqa: ANN001
    c = one(tmp_path, f"- name: c\n  image: named\n  {fields}\n")
    assert (c.entrypoint, c.command) == (entrypoint, command)


def test_names_labels_annotations(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, pod("- {name: web, image: busybox}\n- {name: side, image: busybox}\n",
                                 meta="labels: {app: shop}\nannotations: {team: core}\n"))
    p = plan.pods[0]
    assert p.name == "p" and p.create["labels"] == {"app": "shop"}
    assert [c.name for c in p.containers] == ["p-web", "p-side"]
    c = p.containers[0]
    assert c.pod == "p" and c.labels == {"app": "shop"}
    assert c.annotations["team"] == "core" and c.annotations[convert.ANN_NAME] == "web"
    assert c.restart == "always"  # Kubernetes' default restartPolicy


# ---- environment ------------------------------------------------------------------------

CM = """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {color: blue, size: L, "bad key": x}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {token: czNjcjN0}
stringData: {plain: text}
"""


def test_env_sources(tmp_path: Path) -> None:
    c = one(tmp_path, """\
        - name: c
          image: busybox
          envFrom:
          - {configMapRef: {name: cfg}, prefix: CFG_}
          - {secretRef: {name: sec}}
          env:
          - {name: A, value: one}
          - {name: B, value: "$(A)-two $$(A) $(NOPE)"}
          - {name: COLOR, valueFrom: {configMapKeyRef: {name: cfg, key: color}}}
          - {name: TOKEN, valueFrom: {secretKeyRef: {name: sec, key: token}}}
          - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
          - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
          - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
          - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
          - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
          - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
          - {name: OPT, valueFrom: {configMapKeyRef: {name: gone, key: k, optional: true}}}
          - {name: CFG_size, value: override}
          resources: {limits: {memory: 128Mi, cpu: 250m}}
        """, meta="labels: {app: shop}\n", more=CM)
    env = c.env
    assert env["CFG_color"] == "blue" and env["CFG_size"] == "override" and "CFG_bad key" not in env
    assert env["token"] == "s3cr3t" and env["plain"] == "text"
    assert env["A"] == "one" and env["B"] == "one-two $(A) $(NOPE)"
    assert (env["COLOR"], env["TOKEN"], env["NAME"], env["NS"], env["APP"]) == ("blue", "s3cr3t", "p", "default", "shop")
    assert env["NODE"] == socket.gethostname()
    assert (env["MEM"], env["CPU"]) == ("128", "250")
    assert "OPT" not in env
    assert (c.memory, c.cpus) == (128 * 2**20, 0.25)


def test_args_expand_env(tmp_path: Path) -> None:
    c = one(tmp_path, "- {name: c, image: busybox, command: [echo, $(X)], args: [$(X)x], env: [{name: X, value: v}]}\n")
    assert c.entrypoint == ["echo", "v"] and c.command == ["vx"]


def test_missing_configmap_key_is_located(tmp_path: Path) -> None:
    msg = error_of(tmp_path, pod("""\
        - name: c
          image: busybox
          env:
          - {name: X, valueFrom: {configMapKeyRef: {name: cfg, key: nope}}}
        """) + CM)
    assert msg == (f"{tmp_path}/k.yaml:10:63: spec.containers[0].env[0].valueFrom.configMapKeyRef.key: "
                   "configMap 'cfg' has no key 'nope'")
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, envFrom: [{secretRef: {name: other}}]}\n"))
    assert "envFrom[0].secretRef.name: secret 'other' not found" in msg


def test_unknown_image_is_located(tmp_path: Path) -> None:
    msg = error_of(tmp_path, pod("- name: c\n  image: ghost:1\n"))
    assert msg.startswith(f"{tmp_path}/k.yaml:8:12: spec.containers[0].image: image 'ghost:1' not found")


# ---- security -----------------------------------------------------------------------------

def test_security_context(tmp_path: Path) -> None:
    c = one(tmp_path, """\
        - name: c
          image: busybox
          securityContext:
            runAsUser: 1000
            privileged: true
            readOnlyRootFilesystem: true
            capabilities: {add: [NET_ADMIN], drop: [ALL]}
        """, extra="securityContext: {runAsGroup: 2000, sysctls: [{name: net.ipv4.ip_forward, value: '1'}]}\n")
    assert c.user == "1000:2000" and c.privileged and c.read_only
    assert (c.cap_add, c.cap_drop) == (["NET_ADMIN"], ["ALL"])
    assert c.sysctls == {"net.ipv4.ip_forward": "1"}


def test_run_as_non_root(tmp_path: Path) -> None:
    assert one(tmp_path, "- {name: c, image: nobody, securityContext: {runAsNonRoot: true}}\n").user is None
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, securityContext: {runAsNonRoot: true}}\n"))
    assert "runAsNonRoot is set but the container would run as root" in msg


# ---- volumes ------------------------------------------------------------------------------

def test_volume_kinds(tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    plan = plan_of(tmp_path, pod(f"""\
        - name: c
          image: busybox
          volumeMounts:
          - {{name: host, mountPath: /host, readOnly: true}}
          - {{name: scratch, mountPath: /scratch}}
          - {{name: mem, mountPath: /mem}}
          - {{name: conf, mountPath: /conf}}
          - {{name: conf, mountPath: /etc/app.ini, subPath: app.ini}}
          - {{name: sec, mountPath: /sec}}
          - {{name: claim, mountPath: /claim}}
          - {{name: new, mountPath: /new}}
        """, extra=f"""\
        volumes:
        - {{name: host, hostPath: {{path: {host}, type: Directory}}}}
        - {{name: new, hostPath: {{path: {host}/sub/dir, type: DirectoryOrCreate}}}}
        - {{name: scratch, emptyDir: {{}}}}
        - {{name: mem, emptyDir: {{medium: Memory, sizeLimit: 1Mi}}}}
        - name: conf
          configMap:
            name: cfg
            defaultMode: 0600
            items: [{{key: color, path: app.ini}}, {{key: size, path: nested/size, mode: 0444}}]
        - {{name: sec, secret: {{secretName: sec}}}}
        - {{name: claim, persistentVolumeClaim: {{claimName: data}}}}
        """) + CM)
    p = plan.pods[0]
    mounts = {m["destination"]: m for m in p.containers[0].mounts}
    assert mounts["/host"] == {"type": "bind", "source": str(host), "destination": "/host", "rw": False,
                               "options": ["rbind", "ro"]}
    assert mounts["/scratch"]["volume"] == "p-scratch" and mounts["/scratch"]["rw"]
    assert mounts["/mem"]["type"] == "tmpfs" and f"size={2**20}" in mounts["/mem"]["options"]
    assert mounts["/conf"]["volume"] == "p-conf" and not mounts["/conf"]["rw"]  # configMaps mount read-only
    assert mounts["/etc/app.ini"] == {"type": "volume", "volume": "p-conf", "anonymous": False,
                                      "destination": "/etc/app.ini", "rw": False, "subpath": "app.ini"}
    assert mounts["/claim"]["volume"] == "data"
    vols = {v.name: v for v in p.volumes}
    assert vols["p-conf"].files == {"app.ini": (b"blue", 0o600), "nested/size": (b"L", 0o444)}
    assert vols["p-sec"].files == {"plain": (b"text", 0o644), "token": (b"s3cr3t", 0o644)}
    assert vols["p-scratch"].files is None
    assert vols["p-scratch"].labels == {convert.LABEL_POD: "p", convert.LABEL_SOURCE: "emptyDir"}
    assert vols["p-conf"].labels[convert.LABEL_SOURCE] == "configMap/cfg"
    assert [(h.path, h.directory) for h in p.host_paths] == [(f"{host}/sub/dir", True)]


@pytest.mark.parametrize("kind,make,message", [
    ("Directory", "file", "is not a directory (type: Directory)"),
    ("File", "dir", "is not a file (type: File)"),
    ("Socket", "file", "is not a socket (type: Socket)"),
    ("CharDevice", "dir", "is not a character device"),
    ("Directory", None, "does not exist (type DirectoryOrCreate or FileOrCreate creates it)"),
    ("", None, "does not exist"),
])
def test_host_path_type_checks(tmp_path: Path, kind: str, make, message: str) -> None:  # noqa: ANN001
    target = tmp_path / "target"
    if make == "file":
        target.write_text("x")
    elif make == "dir":
        target.mkdir()
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, volumeMounts: [{name: h, mountPath: /h}]}\n",
                                 extra=f"volumes: [{{name: h, hostPath: {{path: {target}, type: '{kind}'}}}}]\n"))
    assert "spec.volumes[0].hostPath.path: hostPath" in msg and message in msg
    assert msg.startswith(f"{tmp_path}/k.yaml:6:40: ")


def test_char_device_and_file_or_create(tmp_path: Path) -> None:
    c = one(tmp_path, "- {name: c, image: busybox, volumeMounts: [{name: h, mountPath: /h}, {name: f, mountPath: /f}]}\n",
            extra=f"volumes: [{{name: h, hostPath: {{path: /dev/null, type: CharDevice}}}}, "
                  f"{{name: f, hostPath: {{path: {tmp_path}/new.txt, type: FileOrCreate}}}}]\n")
    assert [m["source"] for m in c.mounts] == ["/dev/null", f"{tmp_path}/new.txt"]
    assert not os.path.exists(tmp_path / "new.txt")  # planned, not made


def test_volume_errors(tmp_path: Path) -> None:
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, volumeMounts: [{name: nope, mountPath: /x}]}\n"))
    assert "volumeMounts[0].name: no volume named 'nope' in spec.volumes" in msg
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, volumeMounts: [{name: v, mountPath: /x}]}\n",
                                 extra="volumes: [{name: v, configMap: {name: cfg, items: [{key: x, path: out}]}}]\n") + CM)
    assert "spec.volumes[0].configMap.items[0].key: configMap 'cfg' has no key 'x'" in msg
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, volumeMounts: [{name: v, mountPath: /x}]}\n",
                                 extra="volumes: [{name: v, nfs: {server: s}}]\n"))
    assert "spec.volumes[0]: unsupported volume source" in msg


# ---- pods, ports, kinds ---------------------------------------------------------------------

def test_ports_and_pod_options(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, pod("""\
        - name: c
          image: busybox
          ports:
          - {containerPort: 80, hostPort: 8080}
          - {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: 127.0.0.1}
          - {containerPort: 9090}
        """, extra="hostname: box\nshareProcessNamespace: true\nterminationGracePeriodSeconds: 3\n"
                   "restartPolicy: OnFailure\n"))
    p = plan.pods[0]
    assert p.create["ports"] == ["8080:80/tcp", "127.0.0.1:5353:53/udp"]
    assert p.create["hostname"] == "box" and p.create["share"] == "net,ipc,uts,pid"
    assert p.containers[0].stop_timeout == 3 and p.containers[0].restart == "on-failure"
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, ports: [{containerPort: 1, hostPort: 80}, "
                                 "{containerPort: 2, hostPort: 80}]}\n"))
    assert "host port 80/TCP is published twice" in msg


def test_host_network(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, pod("- {name: c, image: busybox}\n", extra="hostNetwork: true\n"))
    assert plan.pods[0].create["network"] == "host"


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {rev: "3"}}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox, ports: [{containerPort: 80, name: http}]}]
"""


def test_deployment_replicas_are_podman_4_names(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, DEPLOY.replace("REPLICAS", "3"))
    assert plan.pod_names() == ["web-pod-0", "web-pod-1", "web-pod-2"]
    assert [c.name for c in plan.pods[2].containers] == ["web-pod-2-c"]
    assert plan.pods[0].create["labels"] == {"app": "web"}
    assert plan.pods[0].containers[0].annotations["rev"] == "3"
    assert plan_of(tmp_path, DEPLOY.replace("REPLICAS", "0")).pods == []
    msg = error_of(tmp_path, DEPLOY.replace("REPLICAS", "1").replace("{matchLabels: {app: web}}",
                                                                      "{matchLabels: {app: other}}"))
    assert "spec.selector.matchLabels.app: selector app=other does not match" in msg


def test_service_node_port_publishes(tmp_path: Path) -> None:
    svc = ("---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n"
           "  selector: {app: web}\n  ports: [{port: 80, targetPort: http, nodePort: 30080}, {port: 81}]\n")
    plan = plan_of(tmp_path, DEPLOY.replace("REPLICAS", "1") + svc)
    assert plan.pods[0].create["ports"] == ["30080:80/tcp"]
    with pytest.raises(ConfigError) as exc:
        plan_of(tmp_path, DEPLOY.replace("REPLICAS", "2") + svc)
    assert "nodePort 30080 would be published by 2 pods" in str(exc.value)


def test_daemonset_job_and_init_containers(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, """\
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent}
        spec: {template: {spec: {containers: [{name: a, image: busybox}]}}}
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: batch}
        spec:
          backoffLimit: 2
          completions: 2
          template:
            spec:
              restartPolicy: OnFailure
              initContainers: [{name: prep, image: busybox, command: ["true"]}]
              containers: [{name: work, image: busybox}]
        """)
    assert plan.pod_names() == ["agent-pod", "batch-pod-0", "batch-pod-1"]
    job = plan.pods[1]
    assert job.containers[0].restart == "on-failure:2"
    assert job.init[0].restart == "no" and job.init[0].annotations[convert.ANN_INIT] == "true"
    assert job.init[0].name == "batch-pod-0-prep"


def test_host_pid_and_ipc(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, pod("- {name: c, image: busybox}\n", extra="hostPID: true\nhostIPC: true\n"))
    assert plan.warnings == [] and plan.pods[0].create["ipc"] == "host"
    assert plan.pods[0].containers[0].pid == "host"
    msg = error_of(tmp_path, pod("- {name: c, image: busybox}\n", extra="hostPID: true\nshareProcessNamespace: true\n"))
    assert "spec.hostPID: hostPID and shareProcessNamespace cannot both be set" in msg


def test_liveness_probe_becomes_a_health_check(tmp_path: Path) -> None:
    c = one(tmp_path, """\
        - name: c
          image: busybox
          ports: [{name: web, containerPort: 8080}]
          livenessProbe:
            httpGet: {path: /health, port: web}
            periodSeconds: 5
            failureThreshold: 2
        """)
    assert c.health["interval"] == "5s" and c.health["retries"] == 2
    assert "http://localhost:8080/health" in c.health["cmd"][1]


@pytest.mark.parametrize("value", ["$(FIRST)", "a $$ b", "$HOME", "$$(X)", "end$", "plain"])
def test_generate_escapes_what_play_would_expand(value: str) -> None:
    from podium.declare.kube.generate import _escape
    assert convert._expand(_escape(value), {"FIRST": "1", "X": "2"}) == value
