"""The host driver: runs a schedule (``sw.schedule``) on the RTL or on the fast model and
returns what it measured: per step the cycles from start to done, and the DDR contents
afterwards, which the caller checks against the golden model.

On the RTL the run is one cocotb simulation of the accelerator on the DDR model
(``sim.system``): the testbench only writes registers and waits for ``irq``, so Python
stays off the per-cycle path. A progress line shows steps as they finish.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from hw.config import AcceleratorConfig

from .schedule import Schedule

__all__ = ["StepResult", "RunResult", "run_rtl_schedule", "Progress", "SIMULATORS"]

SIMULATORS = ("verilator", "icarus", "model")


@dataclass
class StepResult:
    name: str
    cycles: int
    tiles: int


@dataclass
class RunResult:
    steps: list[StepResult]
    memory: bytes  # DDR after the run
    seconds: dict[str, float] = field(default_factory=dict)  # emit, build, run (wall)
    sim_cycles: int = 0  # every simulated clock cycle, register accesses included
    #: maps kept on chip, by step index, as the next step found them (the fast model
    #: keeps the activation buffer's contents; an RTL run cannot see them)
    on_chip_maps: dict = field(default_factory=dict)


class Progress:
    """The steps of a run as a tqdm bar on stderr (``5/16 steps [00:12, dw4+pw4 12,345
    cycles]``); one line per step when stderr is not a terminal (a log file, CI)."""

    def __init__(self, total: int, stream=None, enabled: bool = True):
        self.stream, self.enabled, self.done = stream or sys.stderr, enabled, 0
        self.tty = self.stream.isatty()
        self.start = time.perf_counter()
        self.bar = tqdm(total=total or None, unit="step", file=self.stream, leave=True,
                        disable=not (enabled and self.tty), dynamic_ncols=True)

    @property
    def total(self) -> int:
        return self.bar.total or 0

    @total.setter
    def total(self, value: int) -> None:
        self.bar.total = value
        self.bar.refresh()

    def update(self, name: str, detail: str = "") -> None:
        self.done += 1
        self.bar.set_postfix_str(f"{name} {detail.strip()}", refresh=False)
        self.bar.update(1)
        if self.enabled and not self.tty:
            elapsed = time.perf_counter() - self.start
            self.stream.write(f"{self.done}/{self.total} steps  {name:<12} {detail} "
                              f"{elapsed:6.1f} s\n")
            self.stream.flush()
        if self.done == self.total:
            self.bar.close()

    def note(self, text: str) -> None:
        if self.enabled:
            self.bar.write(text, file=self.stream)


def _watch(path: Path, progress: Progress, stop: threading.Event) -> None:
    seen = 0
    while not stop.is_set():
        if path.is_file():
            text = path.read_text()
            lines = text[:text.rfind("\n") + 1].splitlines()  # a line being written waits
            for line in lines[seen:]:
                record = json.loads(line)
                progress.update(record["name"], f"{record['cycles']:>10,} cycles")
            seen = len(lines)
        stop.wait(0.2)


def run_rtl_schedule(schedule: Schedule, sim: str = "verilator", progress: Progress | None = None,
                     workdir: Path | None = None, limit: int | None = None) -> RunResult:
    """Run every step of ``schedule`` (the first ``limit`` steps) on the RTL with ``sim``.

    The DDR image, its dump and ``progress.jsonl`` go to ``workdir``; without one, to a
    temporary folder deleted afterwards (also when the run fails or is interrupted)."""
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="mnaccel-run-"))
        try:
            return run_rtl_schedule(schedule, sim, progress, workdir, limit)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    from hw.generate import emit_verilog
    from hw.regs import info_word
    from sim.runner import run_rtl
    from sim.system import (DDR_MODEL, SYSTEM_TOP, ddr_plusargs, ddr_words_log2, read_dump,
                            system_verilog, write_image)

    config: AcceleratorConfig = schedule.config
    beat = config.ddr_data_bits // 8
    progress = progress or Progress(len(schedule.steps), enabled=False)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    image_path, dump_path = workdir / "ddr_image.hex", workdir / "ddr_dump.hex"
    progress_path = workdir / "progress.jsonl"
    progress_path.unlink(missing_ok=True)
    dump_path.unlink(missing_ok=True)  # an earlier run's DDR contents are never read back
    words = write_image(image_path, schedule.image, beat)

    start = time.perf_counter()
    accel = emit_verilog(config)
    emit_seconds = time.perf_counter() - start
    verilog = system_verilog(config, ddr_words_log2(config, len(schedule.image)), accel)
    steps = [{"name": s.name, "addr": s.program.addr, "count": len(s.instructions),
              "tiles": len(s.tiling.tiles), "predicted": s.cost.cycles}
             for s in schedule.steps][:limit]
    params = {"steps": steps, "progress": str(progress_path),
              "info": info_word(config.pe, beat)}

    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(progress_path, progress, stop), daemon=True)
    watcher.start()
    try:
        run = run_rtl(verilog, toplevel=SYSTEM_TOP, test_module="sim.system_tb", sim=sim,
                      params=params, extra_sources=[DDR_MODEL], seed=1,
                      plusargs=ddr_plusargs(config, image_path, dump_path, words))
    finally:
        stop.set()
        watcher.join()
    memory = read_dump(dump_path, beat)[:len(schedule.image)]
    records = {r["name"]: r for r in run.records}
    results = [StepResult(s["name"], records[s["name"]]["cycles"], records[s["name"]]["tiles"])
               for s in steps]
    seconds = {"emit": emit_seconds, "build": run.seconds.get("build", 0.0),
               "run": run.seconds.get("run", 0.0)}
    return RunResult(results, memory, seconds, sim_cycles=records["run"]["cycles"])
