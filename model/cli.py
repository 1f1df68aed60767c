"""Command-line plumbing shared by every mnaccel command.

User mistakes end in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
import tempfile
import threading
import warnings
from pathlib import Path

__all__ = ["Parser", "UsageError", "run_main", "finite_float", "check_output_dir",
           "check_output_file"]


class UsageError(Exception):
    """A mistake of the user's (bad option value, impossible configuration)."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line: ``prog: error: message``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def finite_float(text) -> float:
    """A finite number from ``text`` (ValueError for text, nan and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, not {text!r}")
    return value


_WHY = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def _creatable(option: str, path: Path) -> None:
    """Refuse ``path`` unless its nearest existing ancestor is a folder we can create in.
    The probe creates and removes a temporary file there (permission bits alone do not
    tell: root may write anywhere but /proc or a read-only mount)."""
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():
            raise UsageError(f"{option} {path}: {probe} is a broken link")
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"{option} {path}: {probe} is a file, not a folder")
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".mnaccel-probe-")
    except OSError as error:
        # /proc answers ENOENT; say why only when the reason means something here.
        why = f" ({error.strerror.lower()})" if error.errno in _WHY and error.strerror else ""
        raise UsageError(f"{option} {path}: cannot write in {probe}{why}") from None
    os.close(fd)
    os.unlink(name)


def check_output_dir(option: str, path: Path, marker: str) -> None:
    """Refuse an output folder before any work starts: it must be creatable and writable,
    and, when it exists and is not empty, hold a previous output of the same command
    (``marker``, e.g. report.json), whose files get replaced; anything else is the
    user's and is left alone."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise UsageError(f"{option} {path}: is a file, not a folder")
        try:
            used = any(path.iterdir())
        except OSError as error:
            raise UsageError(f"{option} {path}: cannot read the folder "
                             f"({error.strerror or type(error).__name__})") from None
        if used and not (path / marker).is_file():
            raise UsageError(f"{option} {path}: folder is not empty and holds no {marker} of a "
                             f"previous run; give a new or empty folder")
    _creatable(option, path)


def check_output_file(option: str, path: Path) -> None:
    """Refuse an output file before any work starts: not a folder, in an existing folder
    we can write in. An existing file gets replaced."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder, not a file")
    folder = path.absolute().parent
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise UsageError(f"{option} {path}: its folder {folder} {what}")
    if path.exists():
        try:
            with open(path, "a"):
                pass
        except OSError as error:
            why = f" ({error.strerror.lower()})" if error.errno in _WHY and error.strerror else ""
            raise UsageError(f"{option} {path}: cannot write it{why}") from None
    else:
        _creatable(option, path)


class Terminated(BaseException):
    """SIGTERM arrived (``kill``, a batch system's time limit): unwinds like Ctrl-C, so
    every ``finally`` and ``except BaseException`` on the way stops the tools it
    started and removes what it half wrote."""


def _terminate(signum, frame):
    raise Terminated()


def run_main(prog: str, main, argv=None) -> int:
    """Call ``main(argv)``; a ValueError or UsageError becomes a one-line error, exit 2.
    Ctrl-C ends it with one line and exit 130, SIGTERM with one line and exit 143, both
    after the same clean-up (child tools stopped, no half-written file left)."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return main(argv) or 0
    except (UsageError, ValueError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and closed: not an error of ours or the user's.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        # Objects left half-made (Amaranth's "created but never used") warn as the
        # interpreter exits: say only this.
        warnings.simplefilter("ignore")
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        warnings.simplefilter("ignore")
        print(f"{prog}: terminated", file=sys.stderr)
        return 143
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
