"""Checks for deploy/alertmanager/: amtool check-config, one routing case per alert (and the
edges), the generated AlertmanagerConfig, no secret in git, and a live Alertmanager 0.25 on
127.0.0.1 delivering to loopback Discord/SMTP sinks with the inhibitions applied.

Run: /usr/bin/python3 -m pytest tests/rules/test_alertmanager.py
"""
import json
import shutil
import socket
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_receivers import DiscordSink, SmtpSink, alertmanager_test_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
AM_CONFIG = REPO / "deploy/alertmanager/alertmanager.yml"
AM_CRD = REPO / "deploy/alertmanager/generated/alertmanagerconfig.yaml"
RULES = REPO / "rules/kube-vip.rules.yml"
sys.path.insert(0, str(REPO / "tests"))
from conftest import wait_for  # noqa: E402

CRITICAL = "discord-incidents,email-oncall"
WARNING = "discord-status"


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"SKIP: {tool} not installed (run tools/setup)")


def alerts():
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_amtool_check_config():
    need("amtool")
    res = subprocess.run(["amtool", "check-config", AM_CONFIG], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


# (labels, expected receivers): the edges of the tree. Every alert gets its own case below.
EDGE_CASES = [
    ({"component": "kube-vip", "severity": "critical", "alertname": "KubeVipAllDown"}, CRITICAL),
    ({"component": "kube-vip", "severity": "warning", "alertname": "KubeVipInstanceDown", "node": "k8s-cp2"}, WARNING),
    # A kube-vip alert without severity still lands in a channel, the quiet one.
    ({"component": "kube-vip", "alertname": "KubeVipSomethingNew"}, WARNING),
    # Someone else's critical alert is not ours to page for: it takes the root receiver.
    ({"severity": "critical", "alertname": "KubeAPIDown"}, "discord-status"),
]


def routes_test(labels, expected):
    argv = ["amtool", "config", "routes", "test", f"--config.file={AM_CONFIG}",
            f"--verify.receivers={expected}"] + [f"{k}={v}" for k, v in labels.items()]
    return subprocess.run(argv, capture_output=True, text=True)


@pytest.mark.parametrize("labels,expected", EDGE_CASES, ids=[c[0]["alertname"] for c in EDGE_CASES])
def test_routes_edges(labels, expected):
    need("amtool")
    res = routes_test(labels, expected)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_routes_every_alert_by_severity(rule):
    """Each alert, with the labels the rule gives it, reaches its severity's channels."""
    need("amtool")
    labels = {"alertname": rule["alert"], **rule["labels"], "node": "k8s-cp1"}
    expected = CRITICAL if rule["labels"]["severity"] == "critical" else WARNING
    res = routes_test(labels, expected)
    assert res.returncode == 0, res.stdout + res.stderr


def test_wrong_expectation_fails():
    """amtool really verifies: a warning does not page."""
    need("amtool")
    res = routes_test({"component": "kube-vip", "severity": "warning", "alertname": "KubeVipInstanceDown"}, CRITICAL)
    assert res.returncode != 0


def test_grouping_and_inhibitions():
    am = yaml.safe_load(AM_CONFIG.read_text())
    kube_vip = am["route"]["routes"][0]
    assert kube_vip["group_by"] == ["alertname", "node"]
    pairs = {(r["source_matchers"][0], r["target_matchers"][0]) for r in am["inhibit_rules"]}
    assert ('alertname="KubeVipAllDown"', 'alertname="KubeVipInstanceDown"') in pairs
    names = {r["alert"] for r in alerts()}
    for src, dst in pairs:  # inhibitions only name alerts that exist
        assert src.split('"')[1] in names and dst.split('"')[1] in names


def test_no_secret_in_git():
    text = AM_CONFIG.read_text()
    am = yaml.safe_load(text)
    for rcv in am["receivers"]:
        for d in rcv.get("discord_configs", []):
            assert d["webhook_url"].startswith("https://discord.invalid/"), "a real webhook in git?"
    assert "discord.com/api/webhooks" not in text + AM_CRD.read_text()
    assert "auth_password:" not in text and "smtp_auth_password:" not in text


def test_alertmanagerconfig_matches_the_plain_file():
    crd = yaml.safe_load(AM_CRD.read_text())
    assert crd["apiVersion"] == "monitoring.coreos.com/v1alpha1" and crd["kind"] == "AlertmanagerConfig"
    assert crd["metadata"]["namespace"] == "monitoring"
    spec = crd["spec"]
    assert spec["route"]["groupBy"] == ["alertname", "node"]
    assert {r["name"] for r in spec["receivers"]} == {"discord-incidents", "discord-status", "email-oncall"}
    for rcv in spec["receivers"]:
        for d in rcv.get("discordConfigs", []):
            assert d["apiURL"]["name"] == "kube-vip-alerting"  # a Secret, not a URL
    assert len(spec["inhibitRules"]) == len(yaml.safe_load(AM_CONFIG.read_text())["inhibit_rules"])


# ---------------------------------------------------------------- live Alertmanager

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_test_config(discord, smtp, tmp_path):
    """The shipped config with loopback endpoints; routes, inhibitions and group_wait untouched.

    group_wait stays as shipped on purpose: Alertmanager's inhibitor learns of new alerts
    asynchronously, so what the config guarantees for a source and its target posted in one
    batch is "suppressed by the time the group is first flushed", i.e. after group_wait. A
    shortened group_wait races the inhibitor (a flake seen once in CI). group_interval stays
    short so the resolved message follows quickly.
    """
    password = tmp_path / "smtp-password"
    password.write_text("unused")
    am = alertmanager_test_config(yaml.safe_load(AM_CONFIG.read_text()), discord.url, smtp.address, password,
                                  group_wait=None)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(am))
    return path


@pytest.fixture
def alertmanager(tmp_path):
    need("prometheus-alertmanager")
    with DiscordSink() as discord, SmtpSink() as smtp:
        port = free_port()
        log = open(tmp_path / "alertmanager.log", "w")
        proc = subprocess.Popen([
            "prometheus-alertmanager", f"--config.file={make_test_config(discord, smtp, tmp_path)}",
            f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # never gossip
        ], stdout=log, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: urllib.request.urlopen(api + "/-/ready", timeout=1).status == 200,
                     timeout=20, what="alertmanager ready")
            yield api, discord, smtp
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            log.close()


def post_alerts(api, alerts, ends=None):
    """Posts alerts as Prometheus does when they start firing: startsAt is the firing time,
    i.e. now. (An alert older than group_wait is flushed at once, without group_wait, which
    would race the inhibitor: what made this test flaky.)"""
    now = datetime.now(timezone.utc)
    body = [{"labels": labels, "annotations": {"summary": f"{labels['alertname']} on {labels.get('node', '-')}",
                                               "description": f"test alert on {labels.get('node', 'all nodes')}"},
             "startsAt": (now - timedelta(seconds=1)).isoformat(),
             **({"endsAt": ends.isoformat()} if ends else {})} for labels in alerts]
    req = urllib.request.Request(api + "/api/v2/alerts", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    assert urllib.request.urlopen(req, timeout=5).status == 200


def base(name, severity, **labels):
    return {"alertname": name, "severity": severity, "component": "kube-vip", "job": "kvip-exporter", **labels}


def titles(discord, channel):
    return [e["title"] for m in discord.messages(channel) for e in m.get("embeds", [])]


def alert_states(api):
    return {a["labels"]["alertname"]: a["status"] for a in
            json.load(urllib.request.urlopen(api + "/api/v2/alerts", timeout=5))}


def shipped_group_wait():
    text = yaml.safe_load(AM_CONFIG.read_text())["route"]["routes"][0]["group_wait"]
    assert text.endswith("s"), text
    return int(text[:-1])


def test_live_routing_inhibition_and_resolve(alertmanager):
    api, discord, smtp = alertmanager
    firing = [
        base("KubeVipAllDown", "critical"),
        base("KubeVipInstanceDown", "warning", node="k8s-cp1"),   # inhibited by AllDown
        base("KubeVipVIPSplitBrain", "critical", node="k8s-cp2", vip="10.10.30.10"),
        base("KubeVipVIPNotOnLeader", "warning", node="k8s-cp2", vip="10.10.30.10"),  # inhibited by split brain
        base("KubeVipLockConflicts", "warning", node="k8s-cp3"),
    ]
    post_alerts(api, firing)
    group_wait = shipped_group_wait()

    # The inhibitor marks the targets well within group_wait: that is the guarantee.
    inhibited = ("KubeVipInstanceDown", "KubeVipVIPNotOnLeader")
    wait_for(lambda: all(alert_states(api).get(n, {}).get("inhibitedBy") for n in inhibited),
             timeout=group_wait / 2, what="the inhibitor to mark both targets suppressed",
             interval=0.2)
    assert not discord.payloads, f"a notification went out before group_wait: {json.dumps(discord.payloads)}"

    deadline = group_wait + 30
    wait_for(lambda: len(discord.messages("incidents")) >= 2, timeout=deadline, what="two #incidents messages")
    wait_for(lambda: len(discord.messages("status")) >= 1, timeout=30, what="a #status message")
    wait_for(lambda: len(smtp.messages) >= 2, timeout=30, what="two emails")

    incidents = " ".join(titles(discord, "incidents"))
    assert "KubeVipAllDown" in incidents and "KubeVipVIPSplitBrain" in incidents
    status = " ".join(titles(discord, "status"))
    assert "KubeVipLockConflicts" in status
    everything = json.dumps(discord.payloads)
    assert "KubeVipInstanceDown" not in everything and "KubeVipVIPNotOnLeader" not in everything
    # The node is in the Discord message (grouped by alertname and node).
    assert any("k8s-cp2" in json.dumps(m) for m in discord.messages("incidents"))

    state = alert_states(api)
    assert state["KubeVipInstanceDown"]["state"] == "suppressed" and state["KubeVipInstanceDown"]["inhibitedBy"]
    assert state["KubeVipVIPNotOnLeader"]["inhibitedBy"]

    # Resolve the split brain: #incidents gets the resolved message (send_resolved).
    post_alerts(api, [firing[2]], ends=datetime.now(timezone.utc))
    wait_for(lambda: any("RESOLVED" in t.upper() and "KubeVipVIPSplitBrain" in t for t in titles(discord, "incidents")),
             timeout=30, what="resolved split brain in #incidents")
