"""Which process this is, in terms another process on the same machine can check later.

A router killed with -9 leaves its heartbeat row behind, fresh for up to 30 s.
Another process on the same machine need not wait that long: if the pid the
row names no longer runs the process that wrote it, its owner is gone. That
holds only where pids mean the same thing, so an identity carries its *pid
space* (the kernel's boot id and the pid namespace) and the process's start
time (which tells a reused pid apart). Elsewhere (another host or container,
or no /proc) nothing is concluded and heartbeats decide, as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

__all__ = ["ProcessId", "gone", "this_process"]


@attrs.frozen
class ProcessId:
    space: str  # boot id and pid namespace: where `pid` names this process
    pid: int
    started: int  # start time in clock ticks after boot (/proc/<pid>/stat field 22)


def _stat(pid: int) -> tuple[str, int] | None:
    """The process's state letter and start time, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # Field 2, the command name, may hold spaces and parentheses: count after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[19])


def this_process() -> ProcessId | None:
    """This process's identity, or None where /proc cannot tell (not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    pid = os.getpid()
    stat = _stat(pid)
    if stat is None:
        return None
    return ProcessId(f"{boot}/{namespace}", pid, stat[1])


def gone(process: ProcessId, here: ProcessId) -> bool:
    """True when `process` lived in `here`'s pid space and has stopped (or is a zombie)."""
    if process.space != here.space:
        return False
    stat = _stat(process.pid)
    if stat is None:
        # /proc may hide other users' processes (hidepid=): ask the kernel itself. A
        # process that exists but cannot be read may be a reused pid; assume it runs.
        try:
            os.kill(process.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return stat[1] != process.started or stat[0] in {"Z", "X"}
