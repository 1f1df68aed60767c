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


class Progress:
    """``[####......] 5/16 steps  dw4+pw4  12.3 s`` on one line of a terminal (stderr);
    one line per step when stderr is not a terminal."""

    def __init__(self, total: int, stream=None, enabled: bool = True):
        self.total, self.done, self.stream, self.enabled = total, 0, stream or sys.stderr, enabled
        self.start = time.perf_counter()
        self.tty = self.stream.isatty()

    def update(self, name: str, detail: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        width = 24
        filled = width * self.done // max(1, self.total)
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} steps  "
                f"{name:<12} {detail} {elapsed:6.1f} s")
        if self.tty:
            self.stream.write("\r" + line.ljust(100))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()


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
