"""Kubernetes resource quantities: ``128Mi``, ``1G``, ``500m``, ``1e3``, ``2`` -> numbers.

The suffixes are Kubernetes' (``resource.Quantity``): binary ``Ki Mi Gi Ti Pi
Ei``, decimal ``n u m k M G T P E`` and exponents. Memory becomes whole bytes
(rounded up, as the kubelet does), CPU becomes cores as a float.
"""

from __future__ import annotations

import math
import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "P": 1e15, "E": 1e18}
_RE = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))((?:[eE][+-]?\d+)|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)")


def parse(value: str | int | float) -> float:
    """A quantity as a plain number; ``ValueError`` with a readable message when malformed."""
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    m = _RE.fullmatch(value.strip())
    if not m:
        raise ValueError(f"invalid quantity {value!r}: use a number with an optional suffix "
                         "such as 128Mi, 1G or 500m")
    number, suffix = float(m.group(1)), m.group(2)
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * 10 ** int(suffix[1:])
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]


def memory_bytes(value: str | int | float) -> int:
    return int(math.ceil(parse(value)))


def cpu_cores(value: str | int | float) -> float:
    return parse(value)


def format_bytes(n: int) -> str:
    """Bytes back into the shortest exact binary quantity (``134217728`` -> ``128Mi``)."""
    for suffix, size in sorted(_BINARY.items(), key=lambda kv: -kv[1]):
        if n and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def format_cpu(cores: float) -> str:
    """Cores back into a quantity (``0.5`` -> ``500m``, ``2.0`` -> ``2``)."""
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
