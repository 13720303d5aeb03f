"""End to end on the real testbed: the shipped rules, routes and dashboard against real
kube-vip failures.

Prometheus 2.42 and Alertmanager 0.25 (Debian) run in the testbed's LAN namespace
(<instance>-lan, on the bridge), listening on that namespace's 127.0.0.1 only, and scrape
one kvip-exporter per node (10.10.30.1N:9112, started here inside each node's namespaces).
Alertmanager delivers to loopback Discord-compatible and SMTP sinks in the same namespace
(tests/rules/fake_receivers.py), which log every message to files this test reads.

Rules, routes and inhibitions are the shipped ones; only timers differ: scrape and rule
evaluation every 5s (not 30s), Alertmanager group_wait 1s / group_interval 5s.

Scenarios, in order (module-scoped: one Prometheus for all):
  1. kill the leader's kube-vip (SIGKILL, kubelet frozen): the VIP stays on it while
     another node takes over -> KubeVipVIPSplitBrain on both (#incidents + email),
     KubeVipInstanceDown for it (#status), KubeVipVIPNotOnLeader firing but inhibited;
     heal -> all resolve, resolved messages in the same channels.
  2. something on the leader keeps deleting the VIP (kube-vip re-adds it every 3 s) ->
     KubeVipLeaderWithoutVIP; stop deleting -> kube-vip puts it back, resolves.
  3. add the VIP on a follower -> KubeVipVIPSplitBrain; remove it -> resolves.
  4. the killed kube-vip's restart, as the kubelet counts it, and why it ended (SIGKILL: 137)
     reach Prometheus from the mirror-pod watch.
  5. every exporter stops answering (SIGSTOP, as a partition looks to Prometheus) ->
     KubeVipExportersAllDown in #incidents within 2 minutes, KubeVipExporterDown never
     delivered; SIGCONT -> resolved.
  6. every dashboard panel's query (variables filled in) returns data from that Prometheus.

Needs root and the testbed (tests/testbed_fixture.py); takes about 10 minutes.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests/rules"))
import testbed_fixture  # noqa: E402
from testbed_fixture import NODES, VIP, testbed, wait_for  # noqa: E402,F401  (testbed: the fixture)
from fake_receivers import alertmanager_test_config  # noqa: E402

exporter_binary = testbed_fixture._shared_helpers().exporter_binary

PROM_PORT, AM_PORT = 39090, 39093      # on the LAN namespace's loopback, nothing else uses them
NODE_IP = {n: f"10.10.30.1{i + 1}" for i, n in enumerate(NODES)}


class Monitoring:
    """Exporters on the nodes; Prometheus, Alertmanager and sinks in the LAN namespace."""

    def __init__(self, tb, workdir):
        self.tb, self.dir, self.procs = tb, workdir, []
        self.lan_ns = f"/run/netns/{tb.name}-lan"

    def lan(self, *cmd):
        # nsenter, not `ip netns exec`: no private mount namespace needed here.
        return ["nsenter", f"--net={self.lan_ns}", "--", *map(str, cmd)]

    def exporter_pids(self):
        """The three exporters' pids (tools/testbed exec ends in exec: the pid is the daemon's)."""
        return [proc.pid for proc, log in self.procs if Path(log.name).name.startswith("exporter-")]

    def spawn(self, argv, name, env=None):
        log = open(self.dir / f"{name}.log", "w")
        self.procs.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env), log))

    def start(self):
        self.spawn(self.lan(sys.executable, REPO / "tests/rules/fake_receivers.py", "--record", self.dir), "sinks")
        ports = wait_for(lambda: json.loads((self.dir / "ports.json").read_text()), timeout=10, what="sink ports")

        exporter = exporter_binary()
        # An ASan build keeps up to 256 MiB of freed memory in quarantine, which the dashboard's
        # exporter RSS panel would show as growth; a small quarantine shows the real footprint.
        asan = os.environ.get("ASAN_OPTIONS", "")
        exporter_env = {**os.environ, "ASAN_OPTIONS": f"{asan}:quarantine_size_mb=8" if asan else "quarantine_size_mb=8"}
        for node in NODES:
            # As tools/demo runs it: the node's kubeconfig, manifest and pod logs, and the ARP
            # probe (root in the node's namespace has CAP_NET_RAW) for the "VIP on the wire" row.
            self.spawn([str(REPO / "tools/testbed"), "exec", node, "--", "sh", "-c",
                        'exec "$0" --web.listen-address=:9112 --kubevip.manifest="$KUBEVIP_MANIFEST"'
                        ' --kubevip.log-path="$KVIP_POD_LOG_DIR/kube-system_kube-vip-*/kube-vip/*.log"'
                        ' --vip.arp-probe',
                        str(exporter)], f"exporter-{node}", env=exporter_env)

        password = self.dir / "smtp-password"
        password.write_text("unused")
        am = alertmanager_test_config(
            yaml.safe_load((REPO / "deploy/alertmanager/alertmanager.yml").read_text()),
            lambda ch: f"http://127.0.0.1:{ports['discord']}/api/webhooks/{ch}/test-token",
            f"127.0.0.1:{ports['smtp']}", password, group_interval="5s")
        (self.dir / "alertmanager.yml").write_text(yaml.safe_dump(am))
        self.spawn(self.lan("prometheus-alertmanager", f"--config.file={self.dir / 'alertmanager.yml'}",
                            f"--storage.path={self.dir / 'am-data'}", f"--web.listen-address=127.0.0.1:{AM_PORT}",
                            "--cluster.listen-address="), "alertmanager")

        prom = {
            "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
            "rule_files": [str(REPO / "rules/kube-vip.rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{AM_PORT}"]}]}]},
            "scrape_configs": [{
                "job_name": "kvip-exporter",
                "static_configs": [{"targets": [f"{NODE_IP[n]}:9112"], "labels": {"node": f"k8s-{n}"}}
                                   for n in NODES],
            }],
        }
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(prom))
        self.spawn(self.lan("prometheus", f"--config.file={self.dir / 'prometheus.yml'}",
                            f"--storage.tsdb.path={self.dir / 'prom-data'}",
                            f"--web.listen-address=127.0.0.1:{PROM_PORT}"), "prometheus")
        wait_for(lambda: self.value('count(up{job="kvip-exporter"} == 1)') == 3, timeout=90,
                 interval=1, what="Prometheus scraping three exporters")

    def stop(self):
        for proc, log in reversed(self.procs):
            testbed_fixture._shared_helpers().stop_process(proc, timeout=15)
            log.close()

    def api(self, path, **params):
        url = f"http://127.0.0.1:{PROM_PORT}{path}?{urllib.parse.urlencode(params)}"
        out = subprocess.run(self.lan("curl", "-sf", "--max-time", "5", url), capture_output=True, text=True)
        return json.loads(out.stdout)["data"] if out.returncode == 0 else None

    def value(self, expr):
        data = self.api("/api/v1/query", query=expr)
        return float(data["result"][0]["value"][1]) if data and data["result"] else None

    def firing(self):
        """{(alertname, node)} firing in Prometheus (node '' for cluster-wide alerts)."""
        data = self.api("/api/v1/query", query='ALERTS{alertstate="firing"}') or {"result": []}
        return {(r["metric"]["alertname"], r["metric"].get("node", "")) for r in data["result"]}

    def discord_titles(self, channel):
        path = self.dir / "discord.jsonl"
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [e["title"] for m in lines if m["channel"] == channel for e in m["payload"].get("embeds", [])]

    def emails(self):
        path = self.dir / "email.jsonl"
        return [json.loads(line)["message"] for line in path.read_text().splitlines()] if path.exists() else []

    def delivered(self, channel, state, alertname, node=""):
        """A Discord message in channel, '[FIRING' or '[RESOLVED', about alertname (and node)."""
        return any(t.startswith(f"[{state}") and alertname in t and node in t for t in self.discord_titles(channel))


@pytest.fixture(scope="module")
def mon(testbed, tmp_path_factory):
    testbed_fixture._shared_helpers().require_tools("prometheus", "prometheus-alertmanager",
                                                    "nsenter", "curl")
    m = Monitoring(testbed, tmp_path_factory.mktemp("monitoring"))
    try:
        m.start()
        yield m
    finally:
        m.stop()
        testbed.tool("heal", check=False)


def other_than(node):
    return [n for n in NODES if n != node]


def test_quiet_when_healthy(mon, testbed):
    testbed.wait_settled()
    # Once the rules have evaluated over 75 s of data (every for: of 1m or less had its chance),
    # no alert fired at any point of that window.
    wait_for(lambda: (mon.value('min(count_over_time(up{job="kvip-exporter"}[75s]))') or 0) >= 14,
             timeout=180, interval=2, what="75 s of scrapes from every exporter")
    assert mon.value('count(count_over_time(ALERTS{alertstate="firing"}[75s]))') is None, \
        mon.api("/api/v1/query", query="ALERTS")
    assert mon.firing() == set()
    assert mon.value('sum(kubevip_is_leader{job="kvip-exporter"})') == 1
    assert mon.value('sum(kubevip_vip_bound{job="kvip-exporter"})') == 1


def test_killed_leader_split_brain_instance_down_and_resolve(mon, testbed):
    testbed.wait_settled()
    old = testbed.leader()
    testbed.tool("fault", old, "kill-kubevip")
    try:
        def new_holder():
            holder = (testbed.lease_holder(other_than(old)[0]) or "").removeprefix("k8s-")
            return holder if holder not in ("", old) else None

        new = wait_for(new_holder, timeout=30, interval=0.5, what="another node takes the lease")
        # The VIP stays on the killed node while the new leader adds it: split brain.
        wait_for(lambda: {("KubeVipVIPSplitBrain", f"k8s-{old}"), ("KubeVipVIPSplitBrain", f"k8s-{new}")} <= mon.firing(),
                 timeout=120, interval=1, what="KubeVipVIPSplitBrain firing on both nodes")
        for node in (old, new):
            wait_for(lambda: mon.delivered("incidents", "FIRING", "KubeVipVIPSplitBrain", f"k8s-{node}"),
                     timeout=30, interval=0.5, what=f"split brain on {node} in #incidents")
        wait_for(lambda: any("KubeVipVIPSplitBrain" in m for m in mon.emails()), timeout=30, what="split brain email")

        wait_for(lambda: ("KubeVipInstanceDown", f"k8s-{old}") in mon.firing(), timeout=200, interval=2,
                 what="KubeVipInstanceDown for the killed node")
        wait_for(lambda: mon.delivered("status", "FIRING", "KubeVipInstanceDown", f"k8s-{old}"),
                 timeout=30, interval=0.5, what="instance down in #status")
        # Firing in Prometheus, but inhibited by the split brain on the same node: never delivered.
        assert ("KubeVipVIPNotOnLeader", f"k8s-{old}") in mon.firing()
        assert not any("KubeVipVIPNotOnLeader" in t for ch in ("incidents", "status") for t in mon.discord_titles(ch))
        # Critical never goes to #status, warning never to #incidents.
        assert not any("KubeVipInstanceDown" in t for t in mon.discord_titles("incidents"))
        assert not any("KubeVipVIPSplitBrain" in t for t in mon.discord_titles("status"))
    finally:
        testbed.tool("heal", check=False)

    testbed.wait_settled()
    wait_for(lambda: not {a for a, _ in mon.firing()} & {"KubeVipVIPSplitBrain", "KubeVipInstanceDown"},
             timeout=90, interval=1, what="split brain and instance down resolved")
    wait_for(lambda: mon.delivered("incidents", "RESOLVED", "KubeVipVIPSplitBrain"), timeout=30,
             what="resolved split brain in #incidents")
    wait_for(lambda: mon.delivered("status", "RESOLVED", "KubeVipInstanceDown", f"k8s-{old}"), timeout=30,
             what="resolved instance down in #status")


def test_leader_without_vip(mon, testbed):
    """kube-vip puts a deleted VIP back every 3 s, so the failure is staged as it happens in the
    field: something on the leader keeps deleting the address (tests/e2e/vip_remover.py)."""
    testbed.wait_settled()
    leader = testbed.leader()
    remover = testbed.popen(leader, "/usr/bin/python3", REPO / "tests/e2e/vip_remover.py", VIP, "eno1",
                            stdout=subprocess.PIPE, text=True)
    try:
        assert remover.stdout.readline().strip() in ("deleted", "ready")
        wait_for(lambda: ("KubeVipLeaderWithoutVIP", f"k8s-{leader}") in mon.firing(), timeout=180, interval=1,
                 what="KubeVipLeaderWithoutVIP on the leader")
        wait_for(lambda: mon.delivered("incidents", "FIRING", "KubeVipLeaderWithoutVIP", f"k8s-{leader}"),
                 timeout=30, interval=0.5, what="leader without VIP in #incidents")
        assert testbed.leader() == leader, "the leader kept its lease all along"
    finally:
        remover.terminate()
        remover.wait(timeout=10)
    # kube-vip re-adds the VIP within 3 s once nothing deletes it.
    wait_for(lambda: testbed.vip_holders() == [leader], timeout=30, interval=0.5, what="the VIP back on the leader")
    wait_for(lambda: ("KubeVipLeaderWithoutVIP", f"k8s-{leader}") not in mon.firing(), timeout=120, interval=1,
             what="KubeVipLeaderWithoutVIP resolved")
    wait_for(lambda: mon.delivered("incidents", "RESOLVED", "KubeVipLeaderWithoutVIP", f"k8s-{leader}"),
             timeout=30, what="resolved leader without VIP in #incidents")


def test_vip_added_on_a_follower_is_split_brain(mon, testbed):
    testbed.wait_settled()
    follower = other_than(testbed.leader())[0]
    testbed.exec(follower, "ip", "addr", "add", f"{VIP}/32", "dev", "eno1")
    try:
        wait_for(lambda: ("KubeVipVIPSplitBrain", f"k8s-{follower}") in mon.firing(), timeout=90, interval=1,
                 what="KubeVipVIPSplitBrain on the follower")
        wait_for(lambda: mon.delivered("incidents", "FIRING", "KubeVipVIPSplitBrain", f"k8s-{follower}"),
                 timeout=30, interval=0.5, what="split brain on the follower in #incidents")
    finally:
        testbed.exec(follower, "ip", "addr", "del", f"{VIP}/32", "dev", "eno1", check=False)
    wait_for(lambda: ("KubeVipVIPSplitBrain", f"k8s-{follower}") not in mon.firing(), timeout=60, interval=1,
             what="split brain resolved")


def test_killed_kube_vip_restart_and_reason_from_the_kubelet(mon, testbed):
    """After scenario 1's SIGKILL the kubelet restarted that kube-vip: its count and the
    reason reach Prometheus from the exporter's watch of the mirror pod."""
    wait_for(lambda: mon.value('max(kubevip_container_restarts_total{job="kvip-exporter"})') or 0,
             timeout=60, interval=1, what="a restart counted by the kubelet")
    wait_for(lambda: mon.value('count(kubevip_container_last_terminated_exit_code{job="kvip-exporter"} == 137)'),
             timeout=60, interval=1, what="the SIGKILL (exit 137) as the last termination")
    assert mon.value('count(kubevip_container_last_terminated_reason{job="kvip-exporter",reason="Error"})')


def test_every_exporter_unreachable_pages_once_and_resolves(mon, testbed):
    pids = mon.exporter_pids()
    assert len(pids) == 3
    stopped = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: mon.delivered("incidents", "FIRING", "KubeVipExportersAllDown"), timeout=150, interval=1,
                 what="KubeVipExportersAllDown in #incidents")
        took = time.monotonic() - stopped
        assert took < 120, f"the page took {took:.0f}s"
        wait_for(lambda: any("KubeVipExportersAllDown" in m for m in mon.emails()), timeout=30, what="the page by email")
        assert not any("KubeVipExporterDown" in t for ch in ("incidents", "status") for t in mon.discord_titles(ch))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: mon.value('count(up{job="kvip-exporter"} == 1)') == 3, timeout=60, interval=1,
             what="the exporters scraped again")
    wait_for(lambda: mon.delivered("incidents", "RESOLVED", "KubeVipExportersAllDown"), timeout=60, interval=1,
             what="resolved KubeVipExportersAllDown in #incidents")


def test_every_dashboard_panel_has_data(mon, testbed):
    """The dashboard's queries, variables filled in, against this Prometheus: no empty panel.
    Also draws the picture from real testbed data (kept next to the logs)."""
    out = mon.dir / "dashboard-preview-testbed.png"
    res = subprocess.run(mon.lan(sys.executable, REPO / "tools/dashboard-preview", "--prometheus",
                                 f"http://127.0.0.1:{PROM_PORT}", "--minutes", "10", "--require-data", "--out", out),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
