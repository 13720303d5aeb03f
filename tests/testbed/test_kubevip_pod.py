"""kube-vip's restarts as the kubelet counts them (the kubevip_pod collector), against the
real testbed: SIGKILL kube-vip twice inside one scrape interval (no scrape in between) and the
exporter's kubevip_container_restarts_total equals the restartCount `kubectl get pod` shows,
with the last termination's reason and exit code. Also: the local API server probe answers
on every node, through the name kube-vip dials (https://kubernetes:6443 via 127.0.0.1).

Needs root and the testbed (KVIP_TESTBED=<instance>; KVIP_TESTBED_KEEP=1 keeps it up).
"""
import os
import signal
import time

from full_exporter import FullExporter, success
from testbed_fixture import NODES, testbed, wait_for  # noqa: F401

SCRAPE_INTERVAL_S = 30  # the seed's ServiceMonitor interval


def kubelet_restart_count(tb, node):
    value = tb.mirror_pod(node, "{.status.containerStatuses[0].restartCount}")
    return int(value) if value else None


def series(name, node, **extra):
    labels = f'namespace="kube-system",pod="kube-vip-k8s-{node}",container="kube-vip"'
    labels += "".join(f',{k}="{v}"' for k, v in extra.items())
    return f"{name}{{{labels}}}"


def test_two_sigkills_inside_one_scrape_interval_both_count(testbed, tmp_path):
    tb = testbed
    tb.wait_settled()
    node = next(n for n in NODES if n != tb.leader())  # a follower: no VIP hand-over involved
    exporter = FullExporter(tb, node, tmp_path / "exporter.log")
    restarts = series("kubevip_container_restarts_total", node)
    try:
        # Exporter and kubelet agree before the kills.
        def agreed_count():
            mine, kubectl = exporter.metrics().get(restarts), kubelet_restart_count(tb, node)
            return (mine,) if mine is not None and mine == kubectl else None
        before = int(wait_for(agreed_count, timeout=60, what="the exporter's restart count to match kubectl's")[0])
        own_before = exporter.metrics().get("kubevip_process_restarts_total", 0)

        # Two kills, no scrape in between: each one after the kubelet restarted the previous.
        kills = []
        for i in (1, 2):
            pids = wait_for(lambda: tb.kubevip_pids(node), timeout=90,
                            what=f"a running kube-vip on {node} before kill {i}")
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            kills.append(time.monotonic())
            wait_for(lambda: (kubelet_restart_count(tb, node) or 0) >= before + i, timeout=90, interval=0.2,
                     what=f"the kubelet to count restart {i} on {node}")
        assert kills[1] - kills[0] < SCRAPE_INTERVAL_S, f"the kills were {kills[1] - kills[0]:.1f}s apart"

        # The exporter reports what kubectl reports: both restarts, and why the last run ended.
        def agree():
            samples = exporter.metrics()
            kubectl = kubelet_restart_count(tb, node)
            return kubectl == before + 2 and samples.get(restarts) == kubectl and samples
        samples = wait_for(agree, timeout=60,
                           what=lambda: f"exporter {exporter.metrics().get(restarts)} == kubectl "
                                        f"{kubelet_restart_count(tb, node)} == {before + 2}")
        assert samples[series("kubevip_container_last_terminated_reason", node, reason="Error")] == 1
        assert samples[series("kubevip_container_last_terminated_exit_code", node)] == 137
        assert samples[success("kubevip_pod")] == 1
        # The exporter's own count (start-time changes between scrapes) saw at most one.
        own = samples.get("kubevip_process_restarts_total", 0) - own_before
        assert own <= 1, f"kubevip_process_restarts_total rose by {own} without a scrape in between?"
        wait_for(lambda: exporter.metrics().get(series("kubevip_container_ready", node)) == 1, timeout=90,
                 what=f"kube-vip on {node} ready again")
    finally:
        exporter.stop()
        tb.wait_settled()


def test_local_apiserver_probe_answers_through_the_name_kube_vip_dials(testbed, tmp_path):
    tb = testbed
    exporter = FullExporter(tb, "cp1", tmp_path / "exporter.log")
    try:
        samples = wait_for(lambda: exporter.metrics().get("kubevip_apiserver_livez_up") == 1 and exporter.metrics(),
                           timeout=60, what=lambda: "kubevip_apiserver_livez_up 1; log: "
                                                    + "".join(exporter.log_lines("livez"))[-1000:])
        assert samples[success("apiserver_livez")] == 1
        assert 0 < samples["kubevip_apiserver_livez_duration_seconds"] < 2
    finally:
        exporter.stop()
