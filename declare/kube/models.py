"""Typed Kubernetes objects (pydantic v2), built from documents the schema has accepted.

Only the fields podium maps are modelled; field names follow Kubernetes'
camelCase through aliases, so ``Container.working_dir`` reads ``workingDir``.
Everything here is data: the mapping onto engine specs lives in convert.py.
"""

from __future__ import annotations

from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Quantity = Union[str, int, float]
IntOrString = Union[int, str]


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              frozen=False)


class ObjectMeta(Model):
    name: str = ""
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class KeySelector(Model):
    name: str = ""
    key: str
    optional: bool = False


class LocalRef(Model):
    name: str = ""
    optional: bool = False


class FieldRef(Model):
    field_path: str


class ResourceFieldRef(Model):
    resource: str
    container_name: str = ""
    divisor: Optional[Quantity] = None


class EnvVarSource(Model):
    config_map_key_ref: Optional[KeySelector] = None
    secret_key_ref: Optional[KeySelector] = None
    field_ref: Optional[FieldRef] = None
    resource_field_ref: Optional[ResourceFieldRef] = None


class EnvVar(Model):
    name: str
    value: Optional[str] = None
    value_from: Optional[EnvVarSource] = None


class EnvFromSource(Model):
    prefix: str = ""
    config_map_ref: Optional[LocalRef] = None
    secret_ref: Optional[LocalRef] = None


class ContainerPort(Model):
    name: str = ""
    container_port: int
    host_port: int = 0
    host_ip: str = Field("", alias="hostIP")
    protocol: str = "TCP"


class ResourceRequirements(Model):
    limits: dict[str, Quantity] = Field(default_factory=dict)
    requests: dict[str, Quantity] = Field(default_factory=dict)


class Capabilities(Model):
    add: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)


class SeccompProfile(Model):
    type: str
    localhost_profile: str = ""


class SecurityContext(Model):
    run_as_user: Optional[int] = None
    run_as_group: Optional[int] = None
    run_as_non_root: Optional[bool] = None
    privileged: Optional[bool] = None
    capabilities: Optional[Capabilities] = None
    read_only_root_filesystem: Optional[bool] = None
    allow_privilege_escalation: Optional[bool] = None
    proc_mount: Optional[str] = None
    seccomp_profile: Optional[SeccompProfile] = None


class Sysctl(Model):
    name: str
    value: str


class PodSecurityContext(Model):
    run_as_user: Optional[int] = None
    run_as_group: Optional[int] = None
    run_as_non_root: Optional[bool] = None
    supplemental_groups: list[int] = Field(default_factory=list)
    fs_group: Optional[int] = None
    sysctls: list[Sysctl] = Field(default_factory=list)
    seccomp_profile: Optional[SeccompProfile] = None


class VolumeMount(Model):
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""
    mount_propagation: Optional[str] = None


class ExecAction(Model):
    command: list[str] = Field(default_factory=list)


class HTTPHeader(Model):
    name: str
    value: str


class HTTPGetAction(Model):
    path: str = "/"
    port: IntOrString
    host: str = ""
    scheme: str = "HTTP"
    http_headers: list[HTTPHeader] = Field(default_factory=list)


class TCPSocketAction(Model):
    port: IntOrString
    host: str = ""


class Probe(Model):
    exec: Optional[ExecAction] = None
    http_get: Optional[HTTPGetAction] = None
    tcp_socket: Optional[TCPSocketAction] = None
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3
    success_threshold: int = 1


class Container(Model):
    name: str
    image: str = ""
    image_pull_policy: Optional[str] = None
    command: Optional[list[str]] = None
    args: Optional[list[str]] = None
    working_dir: str = ""
    env: list[EnvVar] = Field(default_factory=list)
    env_from: list[EnvFromSource] = Field(default_factory=list)
    ports: list[ContainerPort] = Field(default_factory=list)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    security_context: Optional[SecurityContext] = None
    volume_mounts: list[VolumeMount] = Field(default_factory=list)
    liveness_probe: Optional[Probe] = None
    readiness_probe: Optional[Probe] = None
    startup_probe: Optional[Probe] = None
    stdin: bool = False
    tty: bool = False


class KeyToPath(Model):
    key: str
    path: str
    mode: Optional[int] = None


class HostPathSource(Model):
    path: str
    type: str = ""


class EmptyDirSource(Model):
    medium: str = ""
    size_limit: Optional[Quantity] = None


class ConfigMapVolumeSource(Model):
    name: str = ""
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: int = 0o644
    optional: bool = False


class SecretVolumeSource(Model):
    secret_name: str = ""
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: int = 0o644
    optional: bool = False


class PVCSource(Model):
    claim_name: str
    read_only: bool = False


class Volume(Model):
    name: str
    host_path: Optional[HostPathSource] = None
    empty_dir: Optional[EmptyDirSource] = None
    config_map: Optional[ConfigMapVolumeSource] = None
    secret: Optional[SecretVolumeSource] = None
    persistent_volume_claim: Optional[PVCSource] = None


class HostAlias(Model):
    ip: str
    hostnames: list[str] = Field(default_factory=list)


class DNSOption(Model):
    name: str
    value: Optional[str] = None


class DNSConfig(Model):
    nameservers: list[str] = Field(default_factory=list)
    searches: list[str] = Field(default_factory=list)
    options: list[DNSOption] = Field(default_factory=list)


class PodSpec(Model):
    containers: list[Container]
    init_containers: list[Container] = Field(default_factory=list)
    volumes: list[Volume] = Field(default_factory=list)
    restart_policy: str = "Always"
    host_network: bool = False
    host_pid: bool = Field(False, alias="hostPID")
    host_ipc: bool = Field(False, alias="hostIPC")
    hostname: str = ""
    host_aliases: list[HostAlias] = Field(default_factory=list)
    dns_policy: Optional[str] = None
    dns_config: Optional[DNSConfig] = None
    share_process_namespace: bool = False
    termination_grace_period_seconds: Optional[int] = None
    active_deadline_seconds: Optional[int] = None
    security_context: PodSecurityContext = Field(default_factory=PodSecurityContext)


class PodTemplateSpec(Model):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec


class Pod(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec


class LabelSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict)


class DeploymentSpec(Model):
    replicas: int = 1
    selector: Optional[LabelSelector] = None
    template: PodTemplateSpec


class Deployment(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: DeploymentSpec


class DaemonSetSpec(Model):
    selector: Optional[LabelSelector] = None
    template: PodTemplateSpec


class DaemonSet(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: DaemonSetSpec


class JobSpec(Model):
    template: PodTemplateSpec
    completions: int = 1
    parallelism: int = 1
    backoff_limit: int = 6
    active_deadline_seconds: Optional[int] = None


class Job(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: JobSpec


class ConfigMap(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict)


class Secret(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    data: dict[str, str] = Field(default_factory=dict)
    string_data: dict[str, str] = Field(default_factory=dict)
    type: str = "Opaque"


class PVCSpec(Model):
    volume_mode: str = "Filesystem"


class PersistentVolumeClaim(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: PVCSpec = Field(default_factory=PVCSpec)


class ServicePort(Model):
    name: str = ""
    protocol: str = "TCP"
    port: int
    target_port: Optional[IntOrString] = None
    node_port: Optional[int] = None


class ServiceSpec(Model):
    type: str = "ClusterIP"
    selector: dict[str, str] = Field(default_factory=dict)
    ports: list[ServicePort] = Field(default_factory=list)


class Service(Model):
    api_version: str
    kind: str
    metadata: ObjectMeta
    spec: ServiceSpec = Field(default_factory=ServiceSpec)


MODELS: dict[str, type[Model]] = {
    "Pod": Pod, "Deployment": Deployment, "DaemonSet": DaemonSet, "Job": Job,
    "ConfigMap": ConfigMap, "Secret": Secret, "PersistentVolumeClaim": PersistentVolumeClaim,
    "Service": Service,
}
