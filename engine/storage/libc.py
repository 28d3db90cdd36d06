"""The few libc calls storage needs that the os module lacks: mount(2) and its kin.

``function("mount")`` -> a callable taking bytes/None/int arguments and returning
the C int result, or None when this libc has no such symbol; after a -1,
``get_errno()`` is the call's errno.

Every ``podium run`` mounts a rootfs, and the ctypes package costs ~2 ms to
import (struct, its type zoo, endian helpers) before the first call. Its C
core, ``_ctypes``, is all these calls need (~0.5 ms), so the functions are
bound through it, the way ctypes' own ``CFUNCTYPE`` does; should that core be
missing or different (another Python implementation), the ctypes package is
used as is.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

# argument types, in ctypes' codes: z char* (bytes or None), i int, I unsigned, L unsigned long
SIGNATURES = {
    "mount": "zzzLz",
    "umount2": "zi",
    "fsopen": "zI",
    "fsconfig": "iIzzi",
    "fsmount": "iII",
    "move_mount": "izizI",
    "renameat2": "izizI",
}

_bound: dict[str, Any] = {}
_binder: Callable[[str, str], Any] | None = None
_errno: Callable[[], int] = lambda: 0  # noqa: E731 - no call made yet


def get_errno() -> int:
    """The errno the last call of a bound function left (this thread's)."""
    return _errno()


def _core_binder() -> Callable[[str, str], Any]:
    """Bind through ``_ctypes`` alone."""
    global _errno
    import _ctypes

    types = {code: type(f"c_{code}", (_ctypes._SimpleCData,), {"_type_": code})
             for code in "ziIL"}

    class Function(_ctypes.CFuncPtr):  # type: ignore[misc, name-defined]
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = types["i"]

    handle = _ctypes.dlopen(None, os.RTLD_NOW | os.RTLD_LOCAL)

    def bind(name: str, signature: str) -> Any:
        try:
            fn = Function(_ctypes.dlsym(handle, name))
        except OSError:  # no such symbol
            return None
        fn.argtypes = tuple(types[c] for c in signature)
        return fn

    _errno = _ctypes.get_errno
    return bind


def _ctypes_binder() -> Callable[[str, str], Any]:
    """Bind through the ctypes package."""
    global _errno
    import ctypes

    types = {"z": ctypes.c_char_p, "i": ctypes.c_int, "I": ctypes.c_uint, "L": ctypes.c_ulong}
    lib = ctypes.CDLL(None, use_errno=True)

    def bind(name: str, signature: str) -> Any:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.argtypes = tuple(types[c] for c in signature)
            fn.restype = ctypes.c_int
        return fn

    _errno = ctypes.get_errno
    return bind


def function(name: str) -> Any:
    """libc's ``name`` (a key of SIGNATURES), or None if this libc lacks it."""
    global _binder
    if name not in _bound:
        if _binder is None:
            try:
                _binder = _core_binder()
            except (ImportError, AttributeError, TypeError, OSError):
                _binder = _ctypes_binder()
        _bound[name] = _binder(name, SIGNATURES[name])
    return _bound[name]

