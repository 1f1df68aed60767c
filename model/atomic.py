"""Files that are whole or absent, and locks that die with their holder.

Every file a later run reads or a user trusts (reports, CSVs, plots, ``config.json``,
the Verilog, a simulator build's completion stamp) is written with :func:`atomic_write`:
into a temporary file beside it, renamed over the final name only when complete. An
exception or Ctrl-C (KeyboardInterrupt) on the way deletes the temporary file and leaves
the previous file, or none, under the final name. A SIGKILL can leave a hidden
``.<name>.<pid>.*.tmp`` beside it, never a partial file under the name; the next
complete write of that name deletes such leftovers of writers that no longer run.

:func:`file_lock` is ``fcntl.flock`` on a lock file: concurrent builders of one cache
entry take turns, and the kernel releases the lock of a process that dies, so a killed
run never blocks the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from glob import escape as glob_escape
from pathlib import Path

__all__ = ["atomic_write", "write_text", "write_bytes", "file_lock"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", **open_kwargs):
    """``with atomic_write(path) as file: ...`` writes ``path`` all at once.

    ``mode`` is "w" (text; ``open_kwargs`` such as ``newline`` pass to :func:`open`) or
    "wb". The file appears under ``path`` only after the block ends without an exception,
    with the permissions a plain :func:`open` would give it.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _remove_leftovers(path)


def _remove_leftovers(path: Path) -> None:
    """Delete the temporary files of ``path`` whose writer was killed: their pid (in the
    name) no longer runs. A live writer's file, another name's, or one not in this form
    stays."""
    for leftover in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = leftover.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_text(path, text: str) -> None:
    """``Path(path).write_text(text)``, atomically."""
    with atomic_write(path) as file:
        file.write(text)


def write_bytes(path, data: bytes) -> None:
    """``Path(path).write_bytes(data)``, atomically."""
    with atomic_write(path, "wb") as file:
        file.write(data)


@contextlib.contextmanager
def file_lock(path, *, shared: bool = False, blocking: bool = True):
    """Hold ``fcntl.flock`` on the file ``path`` (created if missing) for the block.

    ``shared``: a read lock, held by any number of processes at once, excluding an
    exclusive one. ``blocking=False`` yields False at once instead of waiting when the
    lock is taken (and True when it was acquired). The lock file may be deleted by a
    holder of its exclusive lock: a waiter that then gets the deleted file's lock tries
    again on the new file.
    """
    path = Path(path)
    operation = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    if not blocking:
        operation |= fcntl.LOCK_NB
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, operation)
                acquired = True
            except BlockingIOError:
                acquired = False
            if acquired:
                try:
                    acquired = os.path.samestat(os.fstat(fd), os.stat(path))
                except FileNotFoundError:
                    acquired = False
                if not acquired:
                    continue  # deleted or replaced while we waited: lock the new file
            yield acquired
            return
        finally:
            os.close(fd)  # releases the lock
