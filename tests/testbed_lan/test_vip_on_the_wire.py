"""The VIP as the LAN sees it, on the testbed's bridge with real kube-vip: one kvip-exporter
per node (inside the node's namespaces, --vip.arp-probe on) while kube-vip fails over, is
frozen, meets a foreign host claiming the VIP, and a follower's entry is pinned.

Every probe and every packet stays inside the testbed's namespaces (the bridge lives in
the instance's LAN namespace; the foreign host is one more namespace on that bridge).
Conditions are the alert expressions of mixin/alerts/wire.libsonnet (group kube-vip.wire),
evaluated here over the three exporters' current samples.
"""
import re
import subprocess
import time
from pathlib import Path

import pytest

import testbed_fixture
from testbed_fixture import LEASE_DURATION, NODES, testbed, wait_for  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
VIP = "10.10.30.10"
PORT = 9312
exporter_binary = testbed_fixture._shared_helpers().exporter_binary
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def parse(text):
    """[(name, {labels}, value)] of a text-format scrape."""
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:\\.|[^"\\])*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


class Exporters:
    """kvip-exporter on every node, probing the VIP every 300 ms."""

    def __init__(self, tb, log_dir):
        self.tb = tb
        self.procs = []
        binary = exporter_binary()
        for node in NODES:
            log = open(log_dir / f"exporter-{node}.log", "w")
            self.procs.append((tb.popen(node, "sh", "-c",
                                        f'exec "$0" --web.listen-address=127.0.0.1:{PORT} '
                                        '--kubevip.manifest="$KUBEVIP_MANIFEST" --no-kubevip.log '
                                        '--vip.healthz-insecure --vip.healthz-interval=1s '
                                        '--vip.arp-probe --vip.arp-probe-interval=300ms',
                                        str(binary), stdout=log, stderr=subprocess.STDOUT), log))
        for node in NODES:
            wait_for(lambda n=node: self.scrape(n), timeout=30, what=f"exporter on {node}")
        self.mac = {node: self.interface_mac(node) for node in NODES}

    def scrape(self, node):
        r = self.tb.exec(node, "curl", "-sf", "--max-time", "2", f"http://127.0.0.1:{PORT}/metrics",
                         check=False)
        return parse(r.stdout) if r.returncode == 0 else None

    def samples(self, node, name):
        return [(labels, value) for n, labels, value in (self.scrape(node) or []) if n == name]

    def interface_mac(self, node):
        (labels, _), = self.samples(node, "kubevip_interface_info")
        return labels["mac"]

    def neighbor_mac(self, node):
        entries = self.samples(node, "kubevip_vip_neighbor_info")
        return entries[0][0]["mac"] if entries else None

    def responders(self, node):
        return {labels["mac"] for labels, _ in self.samples(node, "kubevip_vip_arp_responder_info")}

    def gratuitous(self, node, mac):
        return sum(v for labels, v in self.samples(node, "kubevip_vip_gratuitous_arps_total")
                   if labels["mac"] == mac)

    def node_of(self, mac):
        return next((n for n, m in self.mac.items() if m == mac), None)

    def stop(self):
        for proc, log in self.procs:
            testbed_fixture._shared_helpers().stop_process(proc, timeout=10)
            log.close()
        for proc, _ in self.procs:
            assert proc.returncode == 0, f"exporter exited {proc.returncode}"

    # -- the alert conditions of group kube-vip.wire, over the current samples ----------

    def duplicate_responders(self):
        """KubeVipVIPDuplicateResponders: distinct responder MACs over all nodes > 1."""
        return set().union(*(self.responders(n) for n in NODES))

    def foreign_macs(self):
        """KubeVipVIPForeignMAC: responder or neighbour MACs that are no node's MAC."""
        seen = set().union(*(self.responders(n) for n in NODES))
        seen |= {m for m in (self.neighbor_mac(n) for n in NODES) if m}
        return seen - set(self.mac.values())

    def stale_followers(self, leader):
        """KubeVipVIPStaleNeighbor: nodes whose entry is a node's MAC but not the leader's."""
        return {n for n in NODES
                if (m := self.neighbor_mac(n)) and self.node_of(m) not in (None, leader)}


@pytest.fixture
def wire(testbed, tmp_path):
    testbed.wait_settled()
    exporters = Exporters(testbed, tmp_path)
    yield exporters
    exporters.stop()
    testbed.tool("heal")
    testbed.wait_settled()


def wait_followers_on(wire, leader, timeout):
    followers = [n for n in NODES if n != leader]
    wait_for(lambda: all(wire.neighbor_mac(n) == wire.mac[leader] for n in followers), timeout=timeout,
             what=lambda: f"followers on {leader}'s MAC; seen {({n: wire.neighbor_mac(n) for n in followers})}")


def test_failover_moves_every_followers_entry_and_gratuitous_arps_are_counted(testbed, wire):
    old = testbed.leader()
    wait_followers_on(wire, old, timeout=30)
    assert wire.neighbor_mac(old) is None, "the holder has no neighbour entry for its own VIP"
    testbed.tool("fault", old, "freeze-kubelet")  # as test_failover: no quick restart
    started = time.monotonic()
    testbed.exec(old, "crictl", "stop", "--timeout", "30", wire.tb.kubevip_container(old))
    new = wait_for(lambda: (h := testbed.lease_holder()) and h != f"k8s-{old}" and h.removeprefix("k8s-"),
                   timeout=LEASE_DURATION + 10, what="a new lease holder")
    wait_for(lambda: testbed.vip_holders() == [new], timeout=LEASE_DURATION + 10, what=f"VIP on {new} only")
    # Every follower, the old leader included, now sends VIP traffic to the new leader's MAC.
    wait_followers_on(wire, new, timeout=30)
    print(f"followers on {new}'s MAC {time.monotonic() - started:.1f}s after stopping {old}")
    for node in NODES:
        if node != new:
            wait_for(lambda n=node: wire.gratuitous(n, wire.mac[new]) > 0, timeout=30,
                     what=f"{node} counting gratuitous ARPs from {new}")
    assert not wire.stale_followers(new)
    assert not wire.foreign_macs()


def test_frozen_leader_two_responders_and_the_duplicate_condition(testbed, wire):
    old = testbed.leader()
    testbed.tool("fault", old, "freeze-kubevip")
    wait_for(lambda: len(testbed.vip_holders()) == 2, timeout=LEASE_DURATION + 15,
             what="a second VIP holder beside the frozen leader")
    holders = testbed.vip_holders()
    third = next(n for n in NODES if n not in holders)
    wait_for(lambda: wire.responders(third) == {wire.mac[h] for h in holders}, timeout=20,
             what=lambda: f"{third} seeing both holders answer; saw {wire.responders(third)}")
    (labels, value), = wire.samples(third, "kubevip_vip_arp_responders")
    assert value == 2
    assert len(wire.duplicate_responders()) > 1  # KubeVipVIPDuplicateResponders' condition


def test_a_foreign_host_claiming_the_vip_is_a_foreign_mac(testbed, wire):
    lan_ns = f"{testbed.name}-lan"
    foreign = f"{testbed.name}-foreign"
    subprocess.run(["ip", "netns", "add", foreign], check=True)
    try:
        subprocess.run(["ip", "-n", lan_ns, "link", "add", "veth-foreign", "type", "veth", "peer", "name",
                        "eno1", "netns", foreign], check=True)
        subprocess.run(["ip", "-n", lan_ns, "link", "set", "veth-foreign", "master", "br0", "up"], check=True)
        subprocess.run(["ip", "-n", foreign, "link", "set", "eno1", "address", "0a:00:00:00:00:99", "up"],
                       check=True)
        subprocess.run(["ip", "-n", foreign, "addr", "add", f"{VIP}/32", "dev", "eno1"], check=True)
        wait_for(lambda: "0a:00:00:00:00:99" in wire.foreign_macs(), timeout=20,
                 what=lambda: f"the foreign MAC among responders; saw {wire.foreign_macs()}")
    finally:
        subprocess.run(["ip", "netns", "del", foreign], check=False)
        subprocess.run(["ip", "-n", lan_ns, "link", "del", "veth-foreign"], check=False)


def test_a_follower_pinned_to_the_old_mac_is_stale(testbed, wire):
    leader = testbed.leader()
    follower, other = [n for n in NODES if n != leader]
    wait_followers_on(wire, leader, timeout=30)
    # The entry a failover left behind: pinned to a node that does not lead.
    testbed.exec(follower, "ip", "neigh", "replace", VIP, "lladdr", wire.mac[other], "dev", "eno1",
                 "nud", "permanent")
    try:
        wait_for(lambda: wire.stale_followers(leader) == {follower}, timeout=20,
                 what=lambda: f"{follower} stale; saw {wire.stale_followers(leader)}")
        (labels, _), = wire.samples(follower, "kubevip_vip_neighbor_info")
        assert labels["state"] == "permanent"
    finally:
        testbed.exec(follower, "ip", "neigh", "del", VIP, "dev", "eno1", check=False)
