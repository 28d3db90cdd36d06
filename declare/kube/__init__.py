"""Kubernetes YAML onto podium's engine and back: ``podium play kube``, ``kube down``, ``generate kube``.

    files ──loader──> KubeObjects (schema-checked, pydantic models, located errors)
          ──convert─> Plan (pod create options + ContainerSpecs + volumes to fill), nothing created
          ──play────> engine calls, undone on failure; Report

Modules: loader.py (YAML -> objects), schema.py (JSON Schema checks, unsupported
fields), models.py (pydantic models), quantity.py (Kubernetes quantities),
convert.py (objects -> Plan), play.py (Plan -> engine; down; --build),
wait.py (readiness and the end of played pods: ``--wait``), generate.py
(engine state -> YAML).

Heavy third-party imports (pydantic, jsonschema, ruamel.yaml) happen inside
these modules only, which only the kube code paths import.
"""
