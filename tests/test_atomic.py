"""model.atomic: a file is written whole or not at all (an exception, Ctrl-C or a kill
mid-write leaves the old file, or none, and no temporary file); file locks make a second
process wait and are released when their holder dies; Ctrl-C ends a command with one
line and exit code 130. And sw.run interrupted while writing its report keeps the old
report.json, leaves no partial file, and runs again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.atomic import atomic_write, file_lock, write_text
from tests import let_children_take_ctrl_c

let_children_take_ctrl_c()  # this module presses Ctrl-C on its children

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _wait_for_line(process: subprocess.Popen, want: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if want in line:
            return
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"never printed {want!r}: {process.stderr.read()}")


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("existing", [True, False])
def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, error, existing):
    path = tmp_path / "report.json"
    if existing:
        write_text(path, "old\n")
    with pytest.raises(error):
        with atomic_write(path) as file:
            file.write("half of the new")
            raise error()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["report.json"] if existing else [])
    if existing:
        assert path.read_text() == "old\n"


def test_complete_write_replaces_with_plain_permissions(tmp_path):
    path = tmp_path / "layers.csv"
    write_text(path, "old")
    with atomic_write(path, newline="") as file:
        file.write("a,b\r\n")
    assert path.read_bytes() == b"a,b\r\n"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["layers.csv"]


# A command writing a large file slowly, as a report or a plot is written.
_SLOW_WRITER = """
import sys, time
from model.atomic import atomic_write
from model.cli import run_main
def main(argv):
    with atomic_write(sys.argv[1]) as file:
        for n in range(10_000):
            file.write("new line %d\\n" % n)
            if n == 10:
                print("writing", flush=True)
            time.sleep(0.001)
sys.exit(run_main("writer", main))
"""


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_signal_mid_write_keeps_the_old_file(tmp_path, how):
    path = tmp_path / "sweep.csv"
    write_text(path, "old\n")
    writer = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_line(writer, "writing")
    writer.send_signal(how)
    _, stderr = writer.communicate(timeout=60)
    assert path.read_text() == "old\n"
    if how == signal.SIGINT:  # Ctrl-C: one line, exit 130, the temporary file removed
        assert writer.returncode == 130
        assert stderr == "writer: interrupted\n"
        assert [p.name for p in tmp_path.iterdir()] == ["sweep.csv"]
    else:  # killed: nothing can clean up, but the name still holds the old file
        assert writer.returncode == -signal.SIGKILL
        leftovers = [p.name for p in tmp_path.iterdir() if p != path]
        assert leftovers and all(p.startswith(f".sweep.csv.{writer.pid}.") for p in leftovers)
        # the next complete write of the name clears the dead writer's leftover
        write_text(path, "newer\n")
        assert [p.name for p in tmp_path.iterdir()] == ["sweep.csv"]


def test_leftover_cleanup_spares_live_writers_and_other_names(tmp_path):
    path = tmp_path / "sweep.csv"
    live = tmp_path / f".sweep.csv.{os.getpid()}.abc.tmp"  # this process: running
    other = tmp_path / ".layers.csv.999999999.abc.tmp"  # another name
    odd = tmp_path / ".sweep.csv.notapid.tmp"  # not of this form
    for p in (live, other, odd):
        p.write_text("")
    write_text(path, "x\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["sweep.csv", live.name, other.name, odd.name])


_HOLDER = """
import sys, time
from model.atomic import file_lock
with file_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_lock_waits_for_its_holder_and_dies_with_it(tmp_path):
    lock = tmp_path / "entry.lock"
    with subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock), "600"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as holder:
        _wait_for_line(holder, "locked")
        with file_lock(lock, blocking=False) as acquired:
            assert not acquired
        with file_lock(lock, shared=True, blocking=False) as acquired:
            assert not acquired
        holder.kill()  # a killed build: the kernel releases its lock
        holder.wait(timeout=60)
    start = time.monotonic()
    with file_lock(lock) as acquired:
        assert acquired
    assert time.monotonic() - start < 5


def test_second_locker_waits_then_proceeds(tmp_path):
    lock = tmp_path / "entry.lock"
    with subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock), "1.5"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as holder:
        _wait_for_line(holder, "locked")
        start = time.monotonic()
        with file_lock(lock):
            waited = time.monotonic() - start
        holder.wait(timeout=60)
    assert waited > 0.5
    with file_lock(lock, shared=True), file_lock(lock, shared=True, blocking=False) as again:
        assert again  # readers share


# sw.run on the fast model, with Ctrl-C arriving while it writes the report (after the
# CSV and the first plot): as a terminal would deliver it, to the process group.
_RUN_INTERRUPTED_WHILE_WRITING = """
import os, signal, sys, time
import sw.run
from model.cli import run_main
def interrupt(report, path):
    os.killpg(os.getpgid(0), signal.SIGINT)
    time.sleep(5)
sw.run._plot_roofline = interrupt
sys.exit(run_main("python -m sw.run", sw.run.main))
"""

_SMALL_RUN = ("--pe", "4", "--sram", "70kB", "--alpha", "0.25", "--resolution", "32",
              "--sim", "model", "--quiet")


@pytest.mark.slow
def test_run_interrupted_while_writing_its_report(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text('{"old": true}\n')
    process = subprocess.run([sys.executable, "-c", _RUN_INTERRUPTED_WHILE_WRITING, *_SMALL_RUN,
                              "--report", str(out)], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, start_new_session=True)
    assert process.returncode == 130, process.stderr
    assert process.stderr.splitlines()[-1] == "python -m sw.run: interrupted"
    assert "Traceback" not in process.stderr
    # report.json comes last: the old one stays; the files written before are complete.
    assert json.loads((out / "report.json").read_text()) == {"old": True}
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv", "predicted_cycles.png",
                                                     "report.json"]
    assert (out / "predicted_cycles.png").read_bytes().endswith(b"IEND\xaeB`\x82")

    again = subprocess.run([sys.executable, "-m", "sw.run", *_SMALL_RUN, "--report", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "report.json").read_text())["bit_exact"]
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv", "predicted_cycles.png",
                                                     "report.json", "roofline.png", "timeline.png"]


def test_build_folder_files_change_together(tmp_path, monkeypatch):
    """hw.generate's mnaccel.v and config.json: Ctrl-C while writing the second leaves
    both old ones (the renames happen once both are written)."""
    import contextlib

    import hw.generate
    from hw.config import AcceleratorConfig

    config = AcceleratorConfig(pe=4, sram_bytes=10**6, alpha=0.25, resolution=32)
    hw.generate.write_build(config, tmp_path, "// old\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["config.json", "mnaccel.v", "mnaccel_regs.h"]
    real, opened = hw.generate.atomic_write, []

    @contextlib.contextmanager
    def interrupted_at_the_second(path, *args, **kwargs):
        with real(path, *args, **kwargs) as file:
            opened.append(path)
            if len(opened) == 2:
                raise KeyboardInterrupt
            yield file

    monkeypatch.setattr(hw.generate, "atomic_write", interrupted_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        hw.generate.write_build(AcceleratorConfig(pe=8, sram_bytes=10**6, alpha=0.25, resolution=32),
                                tmp_path, "// new\n")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def _ctrl_c(process: subprocess.Popen, timeout: float) -> str:
    """Ctrl-C to ``process``'s group as a terminal sends it; its stderr once it ended."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"{process.args} did not stop within {timeout} s of Ctrl-C") from None


@pytest.mark.slow
def test_sweep_interrupted_leaves_no_results(tmp_path):
    """Ctrl-C (to the process group, as a terminal sends it) during sw.explore's sweep on
    a local Dask cluster: exit 130, one line, no traceback, no sweep.csv or plot, and the
    worker processes gone."""
    out = tmp_path / "explore"
    process = subprocess.Popen([sys.executable, "-m", "sw.explore", "--out", str(out), "--workers", "1"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    _wait_for_line(process, "local Dask cluster")
    time.sleep(2)  # inside the sweep (it takes tens of seconds)
    stderr = _ctrl_c(process, 120)
    assert process.returncode == 130, stderr
    assert stderr.replace("\r", "\n").strip().splitlines()[-1] == "python -m sw.explore: interrupted"
    assert "Traceback" not in stderr
    assert not out.exists() or not any(out.iterdir())
    deadline = time.monotonic() + 30  # nothing of the session left running
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("Dask worker processes outlived sw.explore by 30 s")


@pytest.mark.slow
def test_synthesis_interrupted_leaves_no_json(tmp_path):
    """Ctrl-C while Yosys runs under hw.synth: the tool is stopped, exit 130, one line,
    no --json file, no tool left running."""
    out = tmp_path / "synth.json"
    process = subprocess.Popen([sys.executable, "-m", "hw.synth", "--pe", "4", "--sram", "100kB",
                                "--alpha", "0.25", "--resolution", "32", "--no-pnr", "--json", str(out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    _wait_for_line(process, "yosys:", timeout=180)
    time.sleep(2)
    stderr = _ctrl_c(process, 60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "python -m hw.synth: interrupted"
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    time.sleep(1)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
