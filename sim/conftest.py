"""pytest glue for the RTL tests: the ``sim`` parameter and the ``rtl`` fixture.

Any test taking a ``sim`` argument runs once per selected simulator ("icarus",
"verilator"). A simulator that is not installed is *skipped* with the command that
installs it, never passed silently. Choose a subset with ``--sim icarus`` (repeatable or
comma-separated) or ``MNACCEL_SIMS=verilator``; the option wins over the variable.

The ``rtl`` fixture is :func:`sim.runner.run_rtl` bound to the test's simulator; it adds
every cycle count the testbench records to the test's report (``record_property``, so
``--junitxml`` keeps them) and lists them at the end of a ``-v`` run.
"""

import functools
import os

import pytest

from sim.runner import run_rtl
from sim.toolchain import SIMULATORS, simulator_status

SIMS_ENV = "MNACCEL_SIMS"

_CYCLES_KEY = pytest.StashKey[list]()


def pytest_addoption(parser):
    parser.addoption(
        "--sim", action="append", default=None, metavar="NAME",
        help=f"run RTL tests on this simulator only ({', '.join(SIMULATORS)}; repeatable or "
             f"comma-separated; default: ${SIMS_ENV} or all)")


def pytest_configure(config):
    config.stash[_CYCLES_KEY] = []
    selected_simulators(config)  # reject a misspelt name before collecting anything


def selected_simulators(config) -> list[str]:
    """Simulators chosen by ``--sim`` or ``$MNACCEL_SIMS``, in :data:`SIMULATORS` order."""
    raw = config.getoption("--sim", default=None) or [os.environ.get(SIMS_ENV, "")]
    names = {name.strip().lower() for item in raw for name in item.split(",") if name.strip()}
    if not names or "all" in names:
        return list(SIMULATORS)
    unknown = sorted(names - set(SIMULATORS))
    if unknown:
        raise pytest.UsageError(f"unknown simulator {', '.join(map(repr, unknown))}: "
                                f"choose from {', '.join(SIMULATORS)}")
    return [sim for sim in SIMULATORS if sim in names]


@functools.cache
def _status(sim):
    return simulator_status(sim)


def pytest_generate_tests(metafunc):
    if "sim" not in metafunc.fixturenames:
        return
    params = []
    for sim in selected_simulators(metafunc.config):
        available, reason = _status(sim)
        marks = () if available else pytest.mark.skip(reason=f"{sim}: {reason}")
        params.append(pytest.param(sim, id=sim, marks=marks))
    metafunc.parametrize("sim", params)


@pytest.fixture
def rtl(request, sim, record_property):
    """``rtl(design, toplevel=..., test_module=..., params=...) -> SimRun`` on this ``sim``."""

    def run(design, **kwargs):
        __tracebackhide__ = True
        result = run_rtl(design, sim=sim, **kwargs)
        for name, cycles in result.cycles.items():
            record_property(f"cycles[{name}]", cycles)
        request.config.stash[_CYCLES_KEY].append((request.node.nodeid, result))
        return result

    return run


def pytest_terminal_summary(terminalreporter, config):
    runs = config.stash.get(_CYCLES_KEY, [])
    if not runs or config.option.verbose < 1:
        return
    terminalreporter.section("RTL cycle counts")
    for nodeid, result in runs:
        secs = result.seconds
        build = "cached build" if result.reused_build else f"build {secs.get('build', 0):.1f} s"
        terminalreporter.write_line(
            f"{nodeid}: emit {secs.get('emit', 0):.1f} s, {build}, run {secs.get('run', 0):.1f} s, "
            f"seed {result.seed}")
        for name, cycles in result.cycles.items():
            terminalreporter.write_line(f"    {name}: {cycles} cycles")
