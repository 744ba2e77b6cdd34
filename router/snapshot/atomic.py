"""Replace a file only if it still holds what we read: a compare-and-swap at the rename.

An admin API write reads the file, edits it and compiles the result (~100 ms),
then installs it. A human saving in that window must not be overwritten: the
digest is checked again at the very last step. On Linux the new file and the
old one are *exchanged* atomically (``renameat2(RENAME_EXCHANGE)``) and the old
bytes, now under the temporary name, are verified; if they are not what we
read, the exchange is undone. Elsewhere the check runs just before
``os.replace``, which leaves a window of microseconds instead of the write's
whole duration.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["Changed", "exchange_files", "install_if_unchanged"]

Swap = Callable[[str, str], None]


class Changed(Exception):
    """The file on disk is no longer the version the edit was based on."""


def _renameat2() -> Swap | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is None:  # glibc before 2.28
        return None
    at_fdcwd, rename_exchange = -100, 2

    def exchange(a: str, b: str) -> None:
        if function(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), a)

    return exchange


#: Swap two paths atomically, or None where the platform cannot.
exchange_files: Swap | None = _renameat2()

#: What a file system without RENAME_EXCHANGE support answers.
_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def install_if_unchanged(
    data: bytes,
    target: Path,
    expected: str,
    *,
    exchange: Swap | None = exchange_files,
    replace: Swap = os.replace,
) -> None:
    """Write `data` over `target` if its SHA-256 is still `expected`, else raise `Changed`.

    The temp file is written and fsynced in the same directory and takes the
    target's mode and owner; the directory is fsynced after the swap. An OSError
    leaves the original intact and no temp file behind.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        mode = target.stat()
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode.st_mode & 0o7777)
        with contextlib.suppress(PermissionError):
            os.chown(tmp, mode.st_uid, mode.st_gid)
        if not _swap(str(tmp), str(target), expected, exchange, replace):
            raise Changed(str(target))
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _swap(tmp: str, target: str, expected: str, exchange: Swap | None, replace: Swap) -> bool:
    """Install `tmp` at `target` if `target` holds `expected`; False (nothing changed) if not."""
    if exchange is not None:
        try:
            exchange(tmp, target)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
        else:
            if _digest(tmp) == expected:  # what we displaced is what we read: done
                return True
            exchange(tmp, target)  # someone saved meanwhile: put their file back
            return False
    if _digest(target) != expected:
        return False
    replace(tmp, target)
    return True
