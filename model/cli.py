"""Command-line plumbing shared by every mnaccel command.

User mistakes end in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

__all__ = ["Parser", "UsageError", "run_main"]


class UsageError(Exception):
    """A mistake of the user's (bad option value, impossible configuration)."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line: ``prog: error: message``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def run_main(prog: str, main, argv=None) -> int:
    """Call ``main(argv)``; a ValueError or UsageError becomes a one-line error, exit 2."""
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
