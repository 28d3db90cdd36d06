"""Validators compiled ahead of time from schemas/ by scripts/gen_validators.py.

Each module's ``validate(data)`` returns ``data`` or raises: it only says whether
a document is valid. podium runs it first and calls jsonschema only when it
rejects, to word the errors (declare/compose/validate.py, declare/kube/schema.py),
so the usual valid document never pays for importing jsonschema.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~10 ms to import; this module is on every compose/kube load
    from typing import Any


class JsonSchemaValueException(ValueError):
    """A document the compiled validator rejects (the name the generated code uses)."""


class JsonSchemaValuesException(ValueError):
    """Several rejections at once (only raised by code generated with fast_fail=False)."""


def accepts(module: str, data: Any) -> bool:
    """True when the compiled validator ``module`` accepts ``data``.

    False on any doubt: a rejection, a module that is missing (a schema added
    without regenerating) or an exception inside the generated code (say a
    non-string mapping key meeting a pattern); the caller then asks jsonschema,
    whose verdict is the one that counts.
    """
    try:
        validate = importlib.import_module(f"{__name__}.{module}").validate
        validate(data)
    except Exception:  # noqa: BLE001 - every doubt goes to the reference validator
        return False
    return True
