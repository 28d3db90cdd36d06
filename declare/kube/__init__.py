"""Kubernetes YAML onto podium's engine: ``podium play kube``, ``kube down`` (and, later, ``generate kube``).

    files ──loader──> KubeObjects (schema-checked, pydantic models, located errors)
          ──convert─> Plan (pod create options + ContainerSpecs + volumes to fill), nothing created
          ──play────> engine calls, undone on failure; Report

Modules: loader.py (YAML -> objects), schema.py (JSON Schema checks, unsupported
fields), models.py (pydantic models), quantity.py (Kubernetes quantities),
convert.py (objects -> Plan), play.py (Plan -> engine; down).

Heavy third-party imports (pydantic, jsonschema, ruamel.yaml) happen inside
these modules only, which only the kube code paths import.
"""
