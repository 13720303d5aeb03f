"""vip_neighbor and vip_arp_probe collectors against the real kernel, in private network
namespaces (every packet stays inside them).

Neighbour view: one namespace with eno1 (a veth); entries are added, replaced and deleted
with `ip neigh`, IPv4 and IPv6. Probe: a LAN namespace holding a bridge; two "nodes" on it
both holding the VIP, and the prober running kvip-exporter --vip.arp-probe.
"""
import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import require_root, run, wait_for
from test_vip_netlink import Exporter, ip, netns, start_exporter  # noqa: F401 (fixtures)

VIP = "10.10.30.10"
VIP6 = "fd00:30::10"
MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"
FAKES = Path(__file__).resolve().parents[1] / "fakes"
_ids = itertools.count()


def neighbor_info(samples, vip):
    """{mac: state} of kubevip_vip_neighbor_info for `vip`."""
    found = {}
    for key in samples:
        if key.startswith("kubevip_vip_neighbor_info{") and f'vip="{vip}"' in key:
            labels = dict(part.split("=", 1) for part in key[key.index("{") + 1:-1].split(","))
            found[labels["mac"].strip('"')] = labels["state"].strip('"')
    return found


def link_mac(netns_name, iface):
    out = ip(netns_name, "-j", "link", "show", iface).stdout
    return json.loads(out)[0]["address"]


@pytest.mark.parametrize("vip", [VIP, VIP6])
def test_neighbor_entry_followed_through_add_replace_delete(netns, start_exporter, vip):  # noqa: F811
    exporter = start_exporter(f"--vip.address={vip}")
    changed = f'kubevip_vip_neighbor_last_change_timestamp_seconds{{vip="{vip}",interface="eno1"}}'
    samples = exporter.metrics()
    assert samples[f'kubevip_interface_info{{interface="eno1",mac="{link_mac(netns, "eno1")}"}}'] == 1
    assert neighbor_info(samples, vip) == {}
    assert samples['kvip_exporter_collector_success{collector="vip_neighbor"}'] == 1
    started = samples[changed]

    ip(netns, "neigh", "add", vip, "lladdr", MAC_A, "dev", "eno1", "nud", "reachable")
    wait_for(lambda: neighbor_info(exporter.metrics(), vip) == {MAC_A: "reachable"},
             what=f"{vip} -> {MAC_A} reachable")
    first = exporter.value(changed)
    assert first >= started

    ip(netns, "neigh", "replace", vip, "lladdr", MAC_A, "dev", "eno1", "nud", "stale")
    wait_for(lambda: neighbor_info(exporter.metrics(), vip) == {MAC_A: "stale"},
             what="state stale")
    assert exporter.value(changed) == first, "a state change is not a MAC change"

    ip(netns, "neigh", "replace", vip, "lladdr", MAC_B, "dev", "eno1", "nud", "permanent")
    wait_for(lambda: neighbor_info(exporter.metrics(), vip) == {MAC_B: "permanent"},
             what=f"{vip} -> {MAC_B}")
    assert exporter.value(changed) > first

    ip(netns, "neigh", "del", vip, "dev", "eno1")
    wait_for(lambda: neighbor_info(exporter.metrics(), vip) == {}, what="entry gone")


def test_interface_mac_change_is_followed(netns, start_exporter):  # noqa: F811
    exporter = start_exporter(f"--vip.address={VIP}")
    ip(netns, "link", "set", "eno1", "address", "02:00:00:00:01:01")
    exporter.wait_value('kubevip_interface_info{interface="eno1",mac="02:00:00:00:01:01"}', 1)
    assert 'kubevip_interface_info{interface="eno1",mac="' + MAC_A + '"}' not in exporter.metrics()


def test_entry_already_there_at_start_is_not_a_change(netns, start_exporter):  # noqa: F811
    ip(netns, "neigh", "add", VIP, "lladdr", MAC_A, "dev", "eno1", "nud", "permanent")
    exporter = start_exporter(f"--vip.address={VIP}")
    samples = exporter.metrics()
    assert neighbor_info(samples, VIP) == {MAC_A: "permanent"}


def test_no_neighbor_collector_when_disabled(netns, start_exporter):  # noqa: F811
    exporter = start_exporter(f"--vip.address={VIP}", "--no-vip.neighbor")
    assert not any(k.startswith("kubevip_interface_info") for k in exporter.metrics())


# --- the active probe: a bridge in a namespace, two VIP holders, one prober ---------------

class Lan:
    """netns `lan` with bridge br0; `add_host` plugs a namespace into it through a veth
    named eno1 on the host side."""

    def __init__(self):
        self.tag = f"{os.getpid()}-{next(_ids)}"
        self.lan = f"kvt-lan-{self.tag}"
        self.hosts = []
        run("ip", "netns", "add", self.lan)
        ip(self.lan, "link", "add", "br0", "type", "bridge")
        ip(self.lan, "link", "set", "br0", "up")

    def add_host(self, name):
        host = f"kvt-{name}-{self.tag}"
        run("ip", "netns", "add", host)
        self.hosts.append(host)
        ip(host, "link", "set", "lo", "up")
        port = f"p-{name}"
        ip(self.lan, "link", "add", port, "type", "veth", "peer", "name", "eno1", "netns", host)
        ip(self.lan, "link", "set", port, "master", "br0")
        ip(self.lan, "link", "set", port, "up")
        ip(host, "link", "set", "eno1", "up")
        return host

    def close(self):
        for name in self.hosts + [self.lan]:
            run("ip", "netns", "del", name, check=False)


@pytest.fixture
def lan():
    require_root()
    network = Lan()
    try:
        yield network
    finally:
        network.close()


def responders(exporter, vip):
    samples = exporter.metrics()
    macs = {key.split('mac="')[1].split('"')[0]
            for key in samples if key.startswith("kubevip_vip_arp_responder_info{")}
    return samples.get(f'kubevip_vip_arp_responders{{vip="{vip}",interface="eno1"}}'), macs


def start_prober(exporter_bin, host, tmp_path, vip):
    return Exporter(exporter_bin, host, tmp_path / "prober.log", f"--vip.address={vip}",
                    "--vip.arp-probe", "--vip.arp-probe-interval=300ms")


@pytest.mark.parametrize("vip", [VIP, VIP6])
def test_probe_sees_every_holder_and_counts_gratuitous(lan, exporter_bin, tmp_path, vip):
    holders = [lan.add_host("a"), lan.add_host("b")]
    prober_ns = lan.add_host("probe")
    prefix = "32" if vip == VIP else "128"
    ip(holders[0], "addr", "add", f"{vip}/{prefix}", "dev", "eno1", *(["nodad"] if vip == VIP6 else []))
    prober = start_prober(exporter_bin, prober_ns, tmp_path, vip)
    try:
        labels = f'{{vip="{vip}",interface="eno1"}}'
        assert prober.value(f"kubevip_vip_arp_probe_up{labels}") == 1
        mac_a = link_mac(holders[0], "eno1")
        mac_b = link_mac(holders[1], "eno1")
        wait_for(lambda: responders(prober, vip) == (1, {mac_a}), timeout=20,
                 what=lambda: f"one responder {mac_a}; saw {responders(prober, vip)}")

        # A second host claims the VIP: a duplicate on the wire.
        ip(holders[1], "addr", "add", f"{vip}/{prefix}", "dev", "eno1", *(["nodad"] if vip == VIP6 else []))
        wait_for(lambda: responders(prober, vip) == (2, {mac_a, mac_b}), timeout=20,
                 what=lambda: f"two responders; saw {responders(prober, vip)}")

        # Gratuitous ARPs from b (as kube-vip sends after taking the VIP), and garbage.
        run(FAKES / "gratuitous_arp_sender.py", "eno1", vip, "3", "--malformed", netns=holders[1])
        gratuitous = f'kubevip_vip_gratuitous_arps_total{{vip="{vip}",interface="eno1",mac="{mac_b}"}}'
        prober.wait_value(gratuitous, 3, timeout=20)
        last = f'kubevip_vip_gratuitous_arp_last_timestamp_seconds{{vip="{vip}",interface="eno1",mac="{mac_b}"}}'
        assert prober.value(last) > 1.7e9
        if vip == VIP:
            prober.wait_value(f"kubevip_vip_arp_malformed_frames_total{labels}", 1, timeout=20)

        # The duplicate goes away: one responder again.
        ip(holders[0], "addr", "del", f"{vip}/{prefix}", "dev", "eno1")
        wait_for(lambda: responders(prober, vip) == (1, {mac_b}), timeout=20,
                 what=lambda: f"one responder {mac_b}; saw {responders(prober, vip)}")
        assert prober.value(f"kubevip_vip_arp_probes_total{labels}") > 3
    finally:
        prober.stop()


def test_probe_without_net_raw_says_so(lan, exporter_bin, tmp_path):
    host = lan.add_host("nocap")
    log_path = tmp_path / "nocap.log"
    # Drop CAP_NET_RAW from the bounding set (and so from root's effective set).
    argv = ["ip", "netns", "exec", host, "capsh", "--drop=cap_net_raw", "--",
            "-c", f'exec {exporter_bin} --web.listen-address=127.0.0.1:9112 '
                  f'--kubevip.manifest=/nonexistent --no-vip.healthz --no-lease.watch '
                  f'--no-kubevip.log --vip.address={VIP} --vip.arp-probe']
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        labels = f'{{vip="{VIP}",interface="eno1"}}'

        def probe_up():
            out = run("curl", "-sf", "--max-time", "2", "http://127.0.0.1:9112/metrics",
                      netns=host, check=False).stdout
            return f"kubevip_vip_arp_probe_up{labels} 0" in out

        wait_for(probe_up, timeout=15, what="kubevip_vip_arp_probe_up 0")
        lines = [line for line in log_path.read_text().splitlines() if "CAP_NET_RAW" in line]
        assert len(lines) == 1, log_path.read_text()
        assert "ARP/NDP probe off" in lines[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0, log_path.read_text()
