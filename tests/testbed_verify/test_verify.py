"""`kvip-exporter verify` on the testbed (issue 16, "`verify`, the seed's whole checklist"):
each item of the seed's post-upgrade verification judged with its own line and exit code.

- healthy testbed: every item passes, restarts judged against a baseline (exit 0);
- a follower's kube-vip SIGKILLed after the baseline: kubelet restarts it, the restarts item
  fails naming the node (exit 6); without the baseline the counts are only reported;
- every kube-vip frozen and the VIP taken off the leader: the VIP item (exit 3, the first
  failing item) and the lease item (stale) fail; a manifest naming another lease: the
  lease item alone (exit 8);
- a real Prometheus (Debian's) in the lan namespace scraping one kvip-exporter per node and
  kube-vip's :2112, with the shipped rules and a test group (`kube-vip.verify-test`, whose
  alerts carry component="kube-vip" like the shipped ones; one is pending for an hour):
  the Prometheus items pass; one exporter stopped (SIGSTOP) -> targets (exit 10); a test
  alert made to fire (rule file rewritten, SIGHUP) -> alerts (exit 12); Prometheus not
  listening, or something else answering its URL -> exit 9.

Run as root: KVIP_TESTBED=tv /usr/bin/python3 -m pytest -s tests/testbed_verify
"""
import json
import os
import signal
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml

from testbed_fixture import NODES, VIP, _shared_helpers, testbed, wait_for  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
NODE_IP = {n: f"10.10.30.1{i + 1}" for i, n in enumerate(NODES)}
LAN_IP = "10.10.30.1"
PROM_URL = f"http://{LAN_IP}:39190"  # the lan namespace's bridge address: reachable from the nodes
PENDING_ONLY = {"groups": [{"name": "kube-vip.verify-test", "rules": [
    {"alert": "KubeVipVerifyTestPending", "expr": "vector(1)", "for": "1h",
     "labels": {"component": "kube-vip", "severity": "warning"}}]}]}


def verify(tb, *args, node="cp1", manifest="$KUBEVIP_MANIFEST"):
    """(exit code, JSON report) of `kvip-exporter verify` inside NODE (its own manifest
    unless `manifest` is given)."""
    binary = str(_shared_helpers().exporter_binary())
    r = tb.exec(node, "sh", "-c", f'exec "$0" verify --kubevip.manifest="{manifest}" '
                '--output=json --log.level=warn "$@"', binary, *args, check=False, timeout=120)
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"verify printed no JSON (exit {r.returncode}): {r.stdout!r} {r.stderr[-2000:]!r}")
    for check in report.get("checks", []):
        print(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
    print(f"verify {' '.join(args)} -> exit {r.returncode}")
    return r.returncode, report


def failing(report):
    return {c["name"] for c in report["checks"] if not c["ok"]}


def line(report, name):
    return next(c for c in report["checks"] if c["name"] == name)


def restart_count(tb, node):
    out = tb.mirror_pod(node, "{.status.containerStatuses[0].restartCount} "
                              "{.status.containerStatuses[0].ready}")
    parts = (out or "").split()
    return (int(parts[0]), parts[1] == "true") if len(parts) == 2 else (None, False)


@pytest.fixture
def healthy(testbed):
    # The role label kubeadm sets (tools/testbed up sets it too; an instance brought up
    # before that change gets it here).
    for node in NODES:
        testbed.kubectl("label", "node", "--overwrite", f"k8s-{node}",
                        "node-role.kubernetes.io/control-plane=")
    testbed.wait_settled()
    yield testbed
    testbed.tool("heal", check=False)
    testbed.wait_settled()


def test_green_on_a_healthy_testbed_with_a_baseline(healthy, tmp_path):
    baseline = tmp_path / "baseline.json"  # the nodes share the host's filesystem
    code, report = verify(healthy, f"--record-baseline={baseline}")
    assert code == 0 and report["ok"], report
    assert sorted(c["name"] for c in report["checks"]) == [f"pod k8s-{n}" for n in NODES]

    code, report = verify(healthy, f"--baseline={baseline}")
    assert code == 0 and report["ok"] and report["exit_code"] == 0, report
    assert report["failed_item"] == "" and report["restarts_judged"] is True
    names = [c["name"] for c in report["checks"]]
    for node in NODES:
        assert f"pod k8s-{node}" in names and f"metrics k8s-{node}" in names
        assert f"lock-conflicts k8s-{node}" in names
    assert "none since the baseline" in line(report, "restarts")["detail"]
    assert line(report, "lease")["detail"].startswith("kube-system/plndr-cp-lock held by k8s-")


def test_a_follower_restarted_after_the_baseline_fails_restarts(healthy, tmp_path):
    baseline = tmp_path / "baseline.json"
    code, _ = verify(healthy, f"--record-baseline={baseline}")
    assert code == 0
    follower = next(n for n in NODES if n != healthy.leader())
    before, _ = restart_count(healthy, follower)
    pids = healthy.kubevip_pids(follower)
    assert pids, f"no kube-vip process on {follower}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    # kubelet restarts it (the testbed caps the back-off at 10 s): a new count, ready again.
    wait_for(lambda: restart_count(healthy, follower) == (before + 1, True), timeout=90,
             interval=0.5, what=f"{follower}'s kube-vip restarted and ready")
    healthy.wait_settled()

    code, report = verify(healthy, f"--baseline={baseline}")
    assert code == 6 and report["failed_item"] == "restarts", report
    assert failing(report) == {"restarts"}, report
    assert f"k8s-{follower}: 1 restart(s) since the baseline ({before} then, {before + 1} now)" \
        in line(report, "restarts")["detail"]

    # No baseline: reported, not judged.
    code, report = verify(healthy)
    assert code == 0 and report["restarts_judged"] is False, report
    assert "not judged" in line(report, "restarts")["detail"]


def test_vip_gone_and_lease_stale(healthy):
    leader = healthy.leader()
    for node in NODES:  # nobody can re-add the VIP or renew the lease
        healthy.tool("fault", node, "freeze-kubevip")
    healthy.exec(leader, "ip", "addr", "del", f"{VIP}/32", "dev", "eno1")

    def stale_and_gone():
        code, report = verify(healthy)
        return (code, report) if {"vip-healthz", "lease"} <= failing(report) else None

    code, report = wait_for(stale_and_gone, timeout=60, interval=1,
                            what="the VIP unanswered and the lease stale")
    assert code == 3 and report["failed_item"] == "vip", report  # the first failing item
    assert "not renewed for" in line(report, "lease")["detail"]


def test_lease_item_alone(healthy):
    """A manifest naming another lease than the one kube-vip holds: only the lease item
    fails, with its own code."""
    env = healthy.env("cp1")
    manifest = Path(env["KUBEVIP_MANIFEST"]).read_text()
    doc = yaml.safe_load(manifest)
    container = doc["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != "vip_leasename"] + \
        [{"name": "vip_leasename", "value": "no-such-lease"}]
    other = Path(env["KVIP_NODE_ROOT"]) / "tmp-verify-other-lease.yaml"
    other.write_text(yaml.safe_dump(doc))
    try:
        code, report = verify(healthy, manifest=other)
    finally:
        other.unlink()
    assert code == 8 and report["failed_item"] == "lease", report
    assert failing(report) == {"lease"}, report
    assert line(report, "lease")["detail"] == "kube-system/no-such-lease does not exist"


class Monitoring:
    """One kvip-exporter per node (as tools/demo and the e2e run them) and Prometheus in the
    lan namespace on the bridge address, scraping them every 2 s."""

    def __init__(self, tb, workdir):
        self.tb, self.dir, self.procs = tb, workdir, {}
        self.rules = workdir / "verify-test.rules.yml"

    def lan(self, *cmd):
        return ["nsenter", f"--net=/run/netns/{self.tb.name}-lan", "--", *map(str, cmd)]

    def start(self):
        exporter = _shared_helpers().exporter_binary()
        for node in NODES:
            self.procs[f"exporter-{node}"] = self.tb.popen(
                node, "sh", "-c", 'exec "$0" --web.listen-address=:9112 '
                '--kubevip.manifest="$KUBEVIP_MANIFEST" '
                '--kubevip.log-path="$KVIP_POD_LOG_DIR/kube-system_kube-vip-*/kube-vip/*.log"',
                exporter, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.rules.write_text(yaml.safe_dump(PENDING_ONLY))
        prom = {
            "global": {"scrape_interval": "2s", "scrape_timeout": "1s", "evaluation_interval": "2s"},
            "rule_files": [str(REPO / "rules/kube-vip.rules.yml"), str(self.rules)],
            "scrape_configs": [
                {"job_name": "kvip-exporter",
                 "static_configs": [{"targets": [f"{NODE_IP[n]}:9112" for n in NODES]}]},
                {"job_name": "kube-vip",
                 "static_configs": [{"targets": [f"{NODE_IP[n]}:2112" for n in NODES]}]}],
        }
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(prom))
        log = open(self.dir / "prometheus.log", "w")
        self.procs["prometheus"] = subprocess.Popen(
            self.lan("prometheus", f"--config.file={self.dir / 'prometheus.yml'}",
                     f"--storage.tsdb.path={self.dir / 'data'}",
                     f"--web.listen-address={LAN_IP}:39190"), stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.count('up == 1') == 6, timeout=60, interval=0.5,
                 what="Prometheus scraping three exporters and three kube-vips")
        wait_for(lambda: self.firing_or_pending("KubeVipVerifyTestPending"), timeout=30,
                 interval=0.5, what="the rules evaluated")

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a test may have left it stopped
            _shared_helpers().stop_process(proc, timeout=15)

    def api(self, path, **params):
        url = f"{PROM_URL}{path}?{urllib.parse.urlencode(params)}"
        out = subprocess.run(self.lan("curl", "-sf", "--max-time", "5", url), capture_output=True, text=True)
        return json.loads(out.stdout)["data"] if out.returncode == 0 else None

    def count(self, expr):
        data = self.api("/api/v1/query", query=f"count({expr})")
        return float(data["result"][0]["value"][1]) if data and data["result"] else 0

    def firing_or_pending(self, alertname, state=None):
        alerts = (self.api("/api/v1/alerts") or {}).get("alerts", [])
        return any(a["labels"]["alertname"] == alertname and (state is None or a["state"] == state)
                   for a in alerts)

    def reload_rules(self, groups):
        self.rules.write_text(yaml.safe_dump(groups))
        self.procs["prometheus"].send_signal(signal.SIGHUP)


@pytest.fixture(scope="module")
def mon(testbed, tmp_path_factory):
    _shared_helpers().require_tools("prometheus", "nsenter", "curl")
    testbed.wait_settled()
    m = Monitoring(testbed, tmp_path_factory.mktemp("verify-prometheus"))
    try:
        m.start()
        yield m
    finally:
        m.stop()


def test_prometheus_items_pass(mon, healthy):
    code, report = verify(healthy, f"--prometheus-url={PROM_URL}")
    assert code == 0, report
    assert line(report, "prometheus-targets kvip-exporter")["detail"] == "3 target(s) up"
    assert line(report, "prometheus-targets kube-vip")["detail"] == "3 target(s) up"
    assert "kube-vip group(s)" in line(report, "prometheus-rules")["detail"]
    # Pending is not firing.
    assert "pending, not judged: KubeVipVerifyTestPending" in line(report, "prometheus-alerts")["detail"]


def test_a_stopped_exporter_fails_the_targets_item(mon, healthy):
    exporter = mon.procs["exporter-cp2"]
    exporter.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: mon.count('up{job="kvip-exporter"} == 0') == 1, timeout=30, interval=0.5,
                 what="Prometheus sees cp2's exporter down")
        code, report = verify(healthy, f"--prometheus-url={PROM_URL}")
    finally:
        exporter.send_signal(signal.SIGCONT)
    assert code == 10 and report["failed_item"] == "targets", report
    assert failing(report) == {"prometheus-targets kvip-exporter"}, report
    assert f"{NODE_IP['cp2']}:9112 down" in line(report, "prometheus-targets kvip-exporter")["detail"]
    wait_for(lambda: mon.count('up{job="kvip-exporter"} == 1') == 3, timeout=30, interval=0.5,
             what="cp2's exporter up again")


def test_a_firing_kube_vip_alert_fails_the_alerts_item(mon, healthy):
    firing = {"groups": [{**PENDING_ONLY["groups"][0], "rules": PENDING_ONLY["groups"][0]["rules"] + [
        {"alert": "KubeVipVerifyTestFiring", "expr": "vector(1)",
         "labels": {"component": "kube-vip", "severity": "warning"}}]}]}
    mon.reload_rules(firing)
    try:
        wait_for(lambda: mon.firing_or_pending("KubeVipVerifyTestFiring", "firing"), timeout=30,
                 interval=0.5, what="the test alert firing")
        code, report = verify(healthy, f"--prometheus-url={PROM_URL}")
    finally:
        mon.reload_rules(PENDING_ONLY)
    assert code == 12 and report["failed_item"] == "alerts", report
    assert failing(report) == {"prometheus-alerts"}, report
    assert "firing: KubeVipVerifyTestFiring" in line(report, "prometheus-alerts")["detail"]
    wait_for(lambda: not mon.firing_or_pending("KubeVipVerifyTestFiring"), timeout=30, interval=0.5,
             what="the test alert gone")


def test_prometheus_unreachable_or_not_prometheus(mon, healthy):
    code, report = verify(healthy, f"--prometheus-url=http://{LAN_IP}:1")
    assert code == 9 and report["failed_item"] == "prometheus", report
    assert "Prometheus unreachable" in line(report, "prometheus-targets")["detail"]
    # An exporter's web server at the Prometheus URL: a clear line, not a parse crash.
    code, report = verify(healthy, f"--prometheus-url=http://{NODE_IP['cp2']}:9112")
    assert code == 9, report
    assert "not a Prometheus API answer" in line(report, "prometheus-rules")["detail"], report
