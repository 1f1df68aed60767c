"""sw.explore's RTL confirmation: a design point's network runs from DDR on the simulator
on a Dask worker, bit-exact and as the cost model predicts."""

import pytest

from sw.explore import confirm, evaluate


def test_confirm_on_a_local_cluster():
    """On Verilator (the simulator sw.explore --confirm defaults to)."""
    from distributed import Client, LocalCluster

    from sim.toolchain import simulator_status

    sim = "verilator"
    available, reason = simulator_status(sim)
    if not available:
        pytest.skip(f"{sim}: {reason}")
    from tests import no_band_groups

    settings = {"ddr_latency_cycles": 20}
    # whole steps, so that each one's map is read back (the planner makes dw1+pw1 ->
    # dw2+pw2 a band group here; the worker is a thread of this process, and plans so too)
    with no_band_groups():
        point = evaluate(4, 70_000, 0.25, 32, settings=settings)
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            [result] = confirm([point], client=client, settings=settings, sim=sim, steps=2)
    assert [step["name"] for step in result["steps"]] == ["conv1", "dw1+pw1"]
    assert result["bit_exact"] and all(step["bit_exact"] for step in result["steps"])
    # the step cycles are the cost model's to within the 2 % the system tests allow
    assert all(abs(step["error"]) < 0.02 for step in result["steps"])
    assert result["predicted_cycles"] == sum(step["predicted_cycles"] for step in result["steps"])
