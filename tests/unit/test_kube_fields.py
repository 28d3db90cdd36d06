"""The pod and container fields that need engine support: hosts, DNS, groups, security, probes, podIP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.declare.kube import convert
from podium.engine import spec as specs
from podium.engine.errors import ConfigError
from podium.engine.net.etcfiles import hosts_text, resolv_text
from podium.engine.runtime import ocispec
from tests.unit.test_kube_convert import error_of, one, plan_of, pod


def test_host_aliases_and_dns_config_go_to_the_pod(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, pod("- {name: c, image: busybox}\n", extra="""\
        hostAliases: [{ip: 10.1.2.3, hostnames: [a, b]}, {ip: "fd00::1", hostnames: [c]}]
        dnsPolicy: None
        dnsConfig:
          nameservers: [10.9.9.9]
          searches: [x.test]
          options: [{name: ndots, value: "3"}, {name: rotate}]
        """))
    create = plan.pods[0].create
    assert create["add_hosts"] == ["a:10.1.2.3", "b:10.1.2.3", "c:fd00::1"]
    assert (create["dns"], create["dns_search"], create["dns_options"]) == (["10.9.9.9"], ["x.test"],
                                                                          ["ndots:3", "rotate"])


@pytest.mark.parametrize("extra,where", [
    ("hostAliases: [{ip: nope, hostnames: [a]}]\n", "spec.hostAliases[0].ip: 'nope' is not an IP address"),
    ("dnsPolicy: None\n", "spec.dnsPolicy: dnsPolicy None needs a dnsConfig"),
    ("dnsConfig: {nameservers: [x]}\n", "spec.dnsConfig.nameservers[0]: 'x' is not an IP address"),
])
def test_bad_hosts_and_dns_are_located(tmp_path: Path, extra: str, where: str) -> None:
    assert where in error_of(tmp_path, pod("- {name: c, image: busybox}\n", extra=extra))


def test_security_fields(tmp_path: Path) -> None:
    c = one(tmp_path, """\
        - name: c
          image: busybox
          resources: {requests: {memory: 16Mi}, limits: {memory: 32Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            procMount: Unmasked
            seccompProfile: {type: Unconfined}
        """, extra="securityContext: {supplementalGroups: [7, 8], fsGroup: 9}\n")
    assert c.groups == ["7", "8", "9"] and c.annotations[convert.ANN_FS_GROUP] == "9"
    assert c.no_new_privileges and c.unmask == ["ALL"] and c.seccomp_profile == "unconfined"
    assert c.memory_reservation == 16 * 2**20


def test_localhost_seccomp_profile_must_exist(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    c = one(tmp_path, f"- {{name: c, image: busybox, securityContext: {{seccompProfile: "
                      f"{{type: Localhost, localhostProfile: {prof}}}}}}}\n")
    assert c.seccomp_profile == str(prof)
    msg = error_of(tmp_path, pod("- {name: c, image: busybox}\n", extra="securityContext: {seccompProfile: "
                                                                         "{type: Localhost, localhostProfile: x.json}}\n"))
    assert "spec.securityContext.seccompProfile.localhostProfile: seccomp profile " \
           "/var/lib/kubelet/seccomp/x.json not found" in msg


def test_privileged_with_no_escalation_is_refused(tmp_path: Path) -> None:
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, securityContext: {privileged: true, "
                                 "allowPrivilegeEscalation: false}}\n"))
    assert "spec.containers[0].securityContext.allowPrivilegeEscalation: cannot be false" in msg


def test_startup_probe_gates_liveness_and_readiness_is_kept(tmp_path: Path) -> None:
    c = one(tmp_path, """\
        - name: c
          image: busybox
          ports: [{name: p, containerPort: 9000}]
          startupProbe: {exec: {command: [test, -e, /ok]}, periodSeconds: 2, failureThreshold: 10,
                         initialDelaySeconds: 1}
          livenessProbe: {tcpSocket: {port: p}, periodSeconds: 5, failureThreshold: 4}
          readinessProbe: {httpGet: {port: 9000, path: health}, successThreshold: 2}
        """)
    script = c.health["cmd"][1]
    assert script.startswith(f"if [ -e {convert.STARTED_MARK} ]; then {{ nc -z localhost 9000")
    assert "else test -e /ok && touch" in script
    assert (c.health["interval"], c.health["retries"], c.health["start_period"]) == ("2s", 4, "21s")
    ready = json.loads(c.annotations[convert.ANN_READINESS])
    assert ready["success"] == 2 and "http://localhost:9000/health" in ready["test"][1]
    declared = json.loads(c.annotations[convert.ANN_PROBES])
    assert set(declared) == {"startupProbe", "livenessProbe", "readinessProbe"}
    assert declared["livenessProbe"] == {"tcpSocket": {"port": "p"}, "periodSeconds": 5, "failureThreshold": 4}


def test_probe_needs_one_handler(tmp_path: Path) -> None:
    msg = error_of(tmp_path, pod("- {name: c, image: busybox, readinessProbe: {periodSeconds: 3}}\n"))
    assert "spec.containers[0].readinessProbe: a probe needs exactly one of exec, httpGet or tcpSocket" in msg


def test_pod_ip_is_filled_at_create(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, pod("- name: c\n  image: busybox\n  env:\n"
                                 "  - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}\n"))
    assert plan.pods[0].create["reserve_ip"] is True
    assert plan.pods[0].containers[0].env["IP"] == convert.POD_IP
    plan = plan_of(tmp_path, pod("- name: c\n  image: busybox\n  env:\n"
                                 "  - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}\n"),
                   network="none")
    assert plan.pods[0].containers[0].env["IP"] == "127.0.0.1" and "reserve_ip" not in plan.pods[0].create


# ---- the engine's side ------------------------------------------------------------------

def test_extra_config_validates() -> None:
    cfg = specs.extra_config(specs.ContainerSpec("x", add_hosts=["h:10.0.0.1"], dns=["1.1.1.1"], groups=["5"],
                                                 memory_reservation="8m", unmask=["ALL"]))
    assert (cfg["add_hosts"], cfg["dns_servers"], cfg["groups"], cfg["memory_reservation"]) == \
        (["h:10.0.0.1"], ["1.1.1.1"], [5], 8 * 2**20)
    for bad in ({"add_hosts": ["nocolon"]}, {"dns": ["x"]}, {"groups": ["wheel"]}, {"unmask": ["/etc"]},
                {"seccomp_profile": "/nonexistent.json"}):
        with pytest.raises(ConfigError):
            specs.extra_config(specs.ContainerSpec("x", **bad))


def test_etc_files_take_hosts_and_dns() -> None:
    cfg = {"network_mode": "bridge", "hostname": "h", "add_hosts": ["db:10.0.0.5"],
           "dns_servers": ["10.0.0.53"], "dns_search": ["a.test"], "dns_options": ["ndots:2"]}
    assert "10.0.0.5\tdb" in hosts_text(cfg).splitlines()
    text = resolv_text(cfg, nameservers=["10.87.0.1"], search=["dns.podman"],
                       host_resolv="nameserver 8.8.8.8\nsearch host.test\noptions ndots:1 rotate\n")
    assert text == "search a.test\nnameserver 10.0.0.53\noptions rotate ndots:2\n"


def test_oci_config_takes_groups_nnp_unmask_reservation(tmp_path: Path) -> None:
    cfg = {"args": ["sh"], "groups": [4000], "no_new_privileges": True, "unmask": ["ALL"],
           "memory": 64 * 2**20, "memory_reservation": 32 * 2**20, "seccomp_profile": "unconfined"}
    spec = ocispec.build_config(cfg, cid="c" * 64, rootfs=str(tmp_path), etc_files={}, cgroup_path="/x",
                                cgroup_v2=False)
    assert 4000 in spec["process"]["user"]["additionalGids"] and spec["process"]["noNewPrivileges"]
    assert "maskedPaths" not in spec["linux"] and "seccomp" not in spec["linux"]
    assert spec["linux"]["resources"]["memory"]["reservation"] == 32 * 2**20
    with pytest.raises(ConfigError):
        ocispec.build_config({**cfg, "memory_reservation": 128 * 2**20}, cid="c" * 64, rootfs=str(tmp_path),
                             etc_files={}, cgroup_path="/x", cgroup_v2=False)


def test_down_reads_names_without_models(tmp_path: Path) -> None:
    """kube down needs kinds, names, replicas and completions only: no schema, no pydantic."""
    import subprocess
    import sys
    p = tmp_path / "k.yaml"
    p.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n---\n"
                 "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {completions: 2}\n---\n"
                 "apiVersion: v1\nkind: CronThing\nmetadata: {name: x}\n---\n"
                 "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n")
    code = ("import sys; from podium.declare.kube.loader import load_names; "
            "from podium.declare.kube.convert import pod_names; "
            f"l = load_names([{str(p)!r}]); print([n for o in l.objects for n in pod_names(o)], "
            "[o.name for o in l.of('PersistentVolumeClaim')]); "
            "print(sorted(m for m in ('pydantic', 'jsonschema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["['web-pod-0', 'web-pod-1', 'web-pod-2', 'j-pod-0', 'j-pod-1'] ['data']", "[]"]
