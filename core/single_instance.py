"""One running session per account + venue + symbol, enforced by the operating system.

Two sessions on one account both trade: each sees the other's orders as a gap to close, and
both write into one journal. An ``fcntl.flock`` on a lock file beside the journal is held for
the life of the session; the OS drops it when the process ends however it ends (even
SIGKILL), so a stale lock can never block a restart. The file holds who has it (pid, start
time, mode) so a refused start can say so. Replay and ``report`` never take it.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from core.errors import RebalancerError


class AlreadyRunning(RebalancerError):
    """Another live session holds this account + venue + symbol."""


class InstanceLock:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, *, mode: str, now_ms: int) -> "InstanceLock":
        """Take the lock or raise ``AlreadyRunning`` naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            os.close(fd)
            raise AlreadyRunning(f"another rebalancer is running on this account, venue and symbol ({holder}; "
                                 f"lock {self.path}): stop it first, or attach to it (tmux attach)") from None
        started = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": started, "mode": mode}).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


def lock_path(journal_path: Path) -> Path:
    """Beside the journal, with the journal's name: the same account/venue/symbol key."""
    return Path(journal_path).with_suffix(".lock")


def _read(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
    except ValueError:
        return {}


def _describe(info: dict) -> str:
    if not info:
        return "holder unknown"
    return f"pid {info.get('pid', '?')}, started {info.get('started', '?')}, mode {info.get('mode', '?')}"
