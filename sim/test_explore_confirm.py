"""sw.explore's RTL confirmation: a design point's steps run on the simulator from a Dask
worker and agree with the cost model."""

from sw.explore import confirm, evaluate


def test_confirm_on_a_local_cluster(sim):
    from distributed import Client, LocalCluster
    point = evaluate(4, 100_000, 0.25, 32)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        [result] = confirm([point], ["avgpool"], client=client, sim=sim)
    assert [row["step"] for row in result["steps"]] == ["avgpool"]
    assert result["measured_cycles"] == result["predicted_cycles"] > 0
