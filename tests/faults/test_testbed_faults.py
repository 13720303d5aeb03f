"""The fault suite on the real 3-node testbed (tools/testbed): the whole daemon, every
collector on, one exporter per node as the DaemonSet runs it. Each fault: no crash, every
exporter keeps answering /metrics within its collectors' deadlines, a clear log line on the
node that suffered, and after the heal every exporter agrees with the API server again
(holder, leader, VIP binding, kube-vip up, watch up).

Covered elsewhere, not repeated here:
  API server stopped and restarted, frozen API server (stall), etcd compaction forcing 410:
      tests/integration/test_lease_watch.py (lease watch against the testbed)
  :2112 garbage (bad body, not HTTP) and a stalled :2112: tests/integration/test_kubevip_scrape.py
  netlink event overflow with resync: tests/integration/test_vip_netlink.py
  SIGTERM during a stuck scrape: tests/integration/test_web_limits.py and
      tests/faults/test_kubevip_endpoint_faults.py (a peer dripping its answer)
  :2112 huge/endless bodies, closed/reset without an answer, dripped, empty:
      tests/faults/test_kubevip_endpoint_faults.py
This file adds the faults on the testbed with the whole daemon: a node's link cut, the
leader's kube-vip stopped with SIGSTOP, the leader's API server frozen, and SIGTERM while a
scrape waits on a frozen kube-vip.
"""
import subprocess
import threading
import time

import pytest

from full_exporter import (HEALTHZ_TIMEOUT_S, IS_LEADER, KUBEVIP_UP, SCRAPE_TIMEOUT_S,
                            FullExporter, agreement, success, vip_bound, wait_for)
from testbed_fixture import NODES, cluster, testbed  # noqa: F401  (the fixtures)

# A scrape waits at most for the kube-vip scrape's deadline (the healthz probe runs in the
# background; its 2 s timeout is kept in the bound in case it ever moves back); the rest is
# slack for a loaded 2-core machine under ASan.
SCRAPE_BOUND_S = max(SCRAPE_TIMEOUT_S, HEALTHZ_TIMEOUT_S) + 4
HEALTHZ_UP = 'kubevip_vip_healthz_up{vip="10.10.30.10"}'


@pytest.fixture
def exporters(cluster, tmp_path):
    """One full exporter per node, agreeing with the API before the test starts."""
    started = {node: FullExporter(cluster, node, tmp_path / f"exporter-{node}.log")
               for node in NODES}
    try:
        wait_for(lambda: agreement(cluster, started.values()), timeout=60, interval=0.5,
                 what="every exporter agreeing with the API before the fault")
        yield started
    finally:
        for exporter in started.values():
            exporter.stop()


def other_node(node):
    return next(n for n in NODES if n != node)


def holder_seen_from(tb, node):
    """The lease holder as a healthy node's API server sees it."""
    return tb.lease_holder(node=node)


def assert_all_served(exporters):
    """Every exporter answers /metrics within the bound (none hangs on a dead peer)."""
    for exporter in exporters.values():
        code, seconds, samples = exporter.scrape(timeout=SCRAPE_BOUND_S + 5)
        assert samples is not None, f"exporter on {exporter.node}: curl exit {code}"
        assert seconds < SCRAPE_BOUND_S, f"exporter on {exporter.node} took {seconds:.1f}s"


def heal_and_agree(tb, exporters, node):
    tb.tool("heal", node)
    holder = wait_for(lambda: agreement(tb, exporters.values()), timeout=180, interval=0.5,
                      what="every exporter agreeing with the API after the heal")
    collectors = ("kubevip_scrape", "vip_netlink", "lease_watch", "vip_healthz", "manifest")
    for exporter in exporters.values():
        # The VIP healthz probe runs every --vip.healthz-interval (5 s): its last result may
        # still be from the outage for up to one interval after the heal.
        wait_for(lambda: all(exporter.metrics().get(success(c)) == 1 for c in collectors),
                 timeout=30, interval=0.5, what=f"every collector succeeding on {exporter.node}")
    return holder


@pytest.mark.parametrize("fault", ["link-down", "freeze-apiserver"])
def test_leader_loses_its_link_or_api_server(cluster, exporters, fault):
    leader = cluster.leader()
    witness = other_node(leader)
    victim = exporters[leader]
    cluster.tool("fault", leader, fault)

    # kube-vip elsewhere takes over; the exporters there see it through their own API server.
    new_holder = wait_for(
        lambda: (h := holder_seen_from(cluster, witness)) and h != f"k8s-{leader}" and h,
        timeout=60, interval=0.5, what=f"a new lease holder after {fault} on {leader}")
    new_leader = new_holder.removeprefix("k8s-")
    wait_for(lambda: exporters[new_leader].value(IS_LEADER) == 1, timeout=30,
             what=f"the exporter on {new_leader} reporting leadership")
    # The victim no longer claims leadership once the lease it last saw has expired, even
    # though its own API server cannot tell it anything new.
    wait_for(lambda: victim.value(IS_LEADER) == 0, timeout=30,
             what=f"the exporter on {leader} dropping is_leader")
    if fault == "link-down":
        # Cut off, the node cannot reach a healthy API server through the VIP.
        wait_for(lambda: victim.value(HEALTHZ_UP) == 0, timeout=30,
                 what="VIP healthz failing on the cut node")
        assert victim.log_lines('msg="VIP healthz failed"')
    assert_all_served(exporters)

    heal_and_agree(cluster, exporters, leader)
    print(f"{fault} on {leader}: lease moved to {new_holder}; healed and agreed")


def test_leader_kube_vip_frozen_and_resumed(cluster, exporters, tmp_path):
    leader = cluster.leader()
    witness = other_node(leader)
    victim = exporters[leader]
    cluster.tool("fault", leader, "freeze-kubevip")

    # Its :2112 accepts and never answers: down after the scrape deadline, said once.
    wait_for(lambda: victim.value(KUBEVIP_UP) == 0, timeout=30, what="kubevip_up 0 when frozen")
    failures = victim.log_lines('msg="kube-vip scrape failed"')
    assert failures and "kind=timeout" in failures[-1], failures
    assert victim.value("kubevip_scrape_duration_seconds") >= SCRAPE_TIMEOUT_S * 0.9

    # A frozen leader stops renewing; another kube-vip takes the lease and the VIP.
    new_holder = wait_for(
        lambda: (h := holder_seen_from(cluster, witness)) and h != f"k8s-{leader}" and h,
        timeout=60, interval=0.5, what="a new lease holder after freezing kube-vip")
    new_leader = new_holder.removeprefix("k8s-")
    wait_for(lambda: exporters[new_leader].value(vip_bound(victim.vip)) == 1, timeout=30,
             what=f"the VIP bound on {new_leader}")
    wait_for(lambda: victim.value(IS_LEADER) == 0, timeout=30, what="no stale leader")
    # The frozen kube-vip cannot remove its VIP: both nodes carry it (kernel truth), and the
    # exporters say exactly what the interfaces hold.
    holders = cluster.vip_holders()
    for node, exporter in exporters.items():
        assert exporter.value(vip_bound(exporter.vip)) == (1 if node in holders else 0), \
            (node, holders)
    assert_all_served(exporters)

    # SIGTERM while a scrape waits on the frozen kube-vip: a clean exit within 1 s.
    extra = FullExporter(cluster, leader, tmp_path / "exporter-sigterm.log")
    scrape = threading.Thread(target=extra.scrape, kwargs={"timeout": 10})
    scrape.start()
    wait_for(lambda: time_in_scrape(extra),
             timeout=10, interval=0.02, what="a scrape in flight")
    seconds = extra.stop(deadline=5)
    scrape.join()
    assert seconds < 1.0, f"exit took {seconds:.2f}s after SIGTERM during a scrape"

    holder = heal_and_agree(cluster, exporters, leader)
    assert victim.log_lines('msg="kube-vip scrape recovered"')
    print(f"kube-vip frozen on {leader}: lease moved to {new_holder}, VIP on {holders} "
          f"while frozen; settled on {holder}; SIGTERM mid-scrape exited in {seconds:.2f}s")


def time_in_scrape(exporter):
    """True while a /metrics request to the exporter is open (its socket has a peer)."""
    out = subprocess.run(["ip", "netns", "exec", exporter.netns, "ss", "-Htn", "state",
                          "established", f"( sport = :{exporter.port} )"],
                         capture_output=True, text=True).stdout
    return bool(out.strip())
