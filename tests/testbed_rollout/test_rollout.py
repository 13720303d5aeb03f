"""`kvip-exporter rollout` on the testbed (issue 16, "Proven on the testbed"): the whole
control plane's kube-vip upgraded and rolled back in one command, each node's step in a pod
on that node running the exporter image from the testbed registry, while a 10 Hz probe of
the VIP's /healthz runs in the lan namespace. Every test starts from all nodes on v1.0.3
(upgrade_bed's baseline) and ends with a valid manifest on every node and the VIP served.

Run as root: KVIP_TESTBED=kvr /usr/bin/python3 -m pytest -s tests/testbed_rollout
"""
import base64
import json
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from testbed_fixture import NODES, testbed, wait_for  # noqa: F401
from upgrade_bed import (  # noqa: F401  (fixtures by name)
    NEW, OLD, REPO, VipProbe, assert_valid_and_served, baseline, exiting_tag,
    followers_and_leader, json_report, nodes, pristine, restarts_judged_truly)

STEP_LABEL = "app.kubernetes.io/component=rollout-step"


@pytest.fixture(scope="module")
def exporter_image(testbed, nodes):
    """The binary under test as an image in the testbed registry (`env` names it)."""
    binary = nodes["cp1"].binary
    return testbed.tool("push-exporter", binary, timeout=300).stdout.strip()


def rollout_leftovers(tb):
    """Step pods, the lock and the record: what a test may leave behind."""
    pods = tb.kubectl("-n", "kube-system", "get", "pods", "-l", STEP_LABEL, "-o", "name").split()
    lock = tb.kubectl("-n", "kube-system", "get", "lease", "kvip-exporter-rollout",
                      "--ignore-not-found", "-o", "name").strip()
    return pods, lock


@pytest.fixture
def bed(baseline, exporter_image):
    tb = baseline
    tb.kubectl("-n", "kube-system", "delete", "pods", "-l", STEP_LABEL, "--wait=true", check=False)
    tb.kubectl("-n", "kube-system", "delete", "lease,configmap", "kvip-exporter-rollout",
               "--ignore-not-found", check=False)
    yield tb
    tb.kubectl("-n", "kube-system", "delete", "pods", "-l", STEP_LABEL, "--wait=true", check=False)


@pytest.fixture(scope="module")
def operator_kubeconfig(testbed):
    """A kubeconfig for user `rollout-tester`, bound to deploy/rollout/rbac.yaml and nothing
    else: the rollout below runs with exactly the rights the docs say it needs."""
    state = Path("/var/lib/kvip-testbed") / testbed.name
    pki, work = state / "pki", state / "rollout-tester"
    work.mkdir(exist_ok=True)
    key, csr, crt, ext = (work / n for n in ("tester.key", "tester.csr", "tester.crt", "tester.ext"))
    ext.write_text("keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n")
    for cmd in (["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                ["openssl", "req", "-new", "-key", key, "-subj", "/CN=rollout-tester", "-out", csr],
                ["openssl", "x509", "-req", "-in", csr, "-CA", pki / "ca.crt", "-CAkey", pki / "ca.key",
                 "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", crt]):
        subprocess.run(list(map(str, cmd)), check=True, capture_output=True)
    config = yaml.safe_load((state / "cp1" / "etc" / "kubernetes" / "admin.conf").read_text())
    config["users"] = [{"name": "rollout-tester", "user": {
        "client-certificate-data": base64.b64encode(crt.read_bytes()).decode(),
        "client-key-data": base64.b64encode(key.read_bytes()).decode()}}]
    config["contexts"][0]["context"]["user"] = "rollout-tester"
    # Through the VIP, as the seed's kubectl-homelab: it moves during the leader's step, and
    # the rollout must carry on through the nodes' own addresses.
    config["clusters"][0]["cluster"]["server"] = "https://10.10.30.10:6443"
    path = work / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    rbac = REPO / "deploy" / "rollout" / "rbac.yaml"
    testbed.kubectl("apply", "-f", str(rbac))
    testbed.kubectl("create", "clusterrolebinding", "kvip-rollout-tester", "--user=rollout-tester",
                    "--clusterrole=kvip-exporter-rollout-nodes", check=False)
    testbed.kubectl("-n", "kube-system", "create", "rolebinding", "kvip-rollout-tester",
                    "--user=rollout-tester", "--role=kvip-exporter-rollout", check=False)
    assert testbed.kubectl("auth", "can-i", "list", "secrets", "-n", "kube-system",
                           "--as=rollout-tester", check=False).strip() == "no"
    return str(path)


def argv(binary, *args):
    return [binary, "rollout", "--runtime=crictl", "--output=json", *args]


def rollout(tb, nodes, *args, timeout=900):
    """(exit code, JSON report, progress on stderr) of a rollout run from cp1."""
    r = tb.exec("cp1", *argv(nodes["cp1"].binary, *args), check=False, timeout=timeout)
    report = json_report(r)
    print(f"rollout {' '.join(args)} -> exit {r.returncode}: {report.get('result')} "
          f"{report.get('message', '')}")
    for section in ("preflight", "nodes", "verify"):
        for check in report.get(section, []):
            print(f"  {section:9} {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
    return r.returncode, report, r.stderr


def created_at(tb, node):
    """When the node's mirror pod was made: its step's manifest change (a container restart
    after it would not move this)."""
    return tb.mirror_pod(node, "{.metadata.creationTimestamp}")


def node_names(report):
    return [c["name"].removeprefix("node k8s-") for c in report["nodes"]]


def test_rollout_to_then_rollback_followers_first_the_leader_last(bed, nodes, pristine,
                                                                  operator_kubeconfig):
    """With the documented RBAC only (deploy/rollout/rbac.yaml)."""
    tb = bed
    followers, leader = followers_and_leader(tb)
    figures = {}
    as_operator = f"--kubeconfig={operator_kubeconfig}"
    for action, args, image in (("to v1.0.4", ["--to=v1.0.4", as_operator], NEW),
                                ("rollback", ["--rollback", as_operator], OLD)):
        followers, leader = followers_and_leader(tb)
        probe = VipProbe(tb, nodes)
        try:
            code, report, progress = rollout(tb, nodes, *args)
        finally:
            figures[action] = probe.stop()
        assert node_names(report) == followers + [leader], "followers first, the leader last"
        assert all(c["ok"] for c in report["nodes"]), report["nodes"]
        assert report["verify"], report
        stayed_up = restarts_judged_truly(tb, report["verify"])
        assert (code, report["result"]) == ((0, "done") if stayed_up else (1, "verify-failed")), report
        for name, node in nodes.items():
            assert node.manifest.read_text() == pristine[name].replace(OLD, image)
            assert node.runs(image)
        # The leader's kube-vip was replaced last.
        starts = {n: created_at(tb, n) for n in NODES}
        assert max(starts.values()) == starts[leader], starts
        streamed = [line for line in progress.splitlines() if line.startswith(f"[k8s-{leader}] ts=")]
        assert any('msg="step"' in line for line in streamed), "the leader's step streamed"
        assert rollout_leftovers(tb) == ([], ""), "step pods deleted, lock released"
    code, report, _ = rollout(tb, nodes, "--status", as_operator)
    assert code == 0
    assert all("v1.0.3 running, ready" in c["detail"] and "rolled-back" in c["detail"]
               for c in report["nodes"] if c["name"].startswith("node ")), report["nodes"]
    for action, (probes, total, longest) in figures.items():
        print(f"rollout {action}: VIP probe {probes} probes at 10 Hz, unavailable {total:.2f}s "
              f"in total, longest {longest:.2f}s")
    assert_valid_and_served(tb, nodes)


def test_dry_run_prints_the_plan_and_every_preflight_and_changes_nothing(bed, nodes, pristine):
    tb = bed
    followers, leader = followers_and_leader(tb)
    code, report, _ = rollout(tb, nodes, "--to=v1.0.4", "--dry-run")
    assert code == 0, report
    assert report["result"] == "planned"
    assert [line.split(":")[0].split(" ")[0] for line in report["plan"]] == \
        [f"k8s-{n}" for n in followers + [leader]]
    assert sorted(c["name"] for c in report["preflight"] if c["name"].startswith("preflight ")) == \
        [f"preflight k8s-{n}" for n in NODES]
    assert report["nodes"] == []
    for name, node in nodes.items():
        assert node.manifest.read_text() == pristine[name]
        assert node.state() is None
    assert rollout_leftovers(tb) == ([], "")


def test_a_tag_that_cannot_be_pulled_is_refused_before_any_manifest_changes(bed, nodes, pristine):
    tb = bed
    code, report, _ = rollout(tb, nodes, "--to=v9.9.9")
    assert code == 6, report
    failed = [c for c in report["preflight"] if c["name"].startswith("preflight ")]
    assert len(failed) == 3 and not any(c["ok"] for c in failed), failed
    assert all("pull" in c["detail"] and "v9.9.9" in c["detail"] for c in failed), failed
    assert report["nodes"] == []
    for name, node in nodes.items():
        assert node.manifest.read_text() == pristine[name]
        assert node.state() is None
    assert rollout_leftovers(tb) == ([], "")
    assert_valid_and_served(tb, nodes)


def test_a_follower_that_cannot_run_the_new_version_stops_the_rollout(bed, nodes, pristine,
                                                                    exiting_tag):
    tb = bed
    followers, _ = followers_and_leader(tb)
    code, report, _ = rollout(tb, nodes, f"--to={exiting_tag}", "--timeout=60s")
    assert code == 7, report
    assert node_names(report) == [followers[0]], "stopped at the first failing node"
    step = report["nodes"][0]
    assert not step["ok"] and "rolled-back (exit 9)" in step["detail"], step
    assert "later nodes untouched" in report["message"] or "untouched" in report["message"]
    for name, node in nodes.items():
        assert node.manifest.read_text() == pristine[name], f"{name} on the old version"
    assert sorted(report["versions"]) == [f"k8s-{n}: v1.0.3, ready" for n in NODES], report["versions"]
    assert nodes[followers[0]].state()["step"] == "rolled-back"
    assert all(nodes[n].state() is None for n in NODES if n != followers[0]), "the others untouched"
    code, status, _ = rollout(tb, nodes, "--status")
    assert f"k8s-{followers[0]}" in json.dumps(status) and "rolled-back" in json.dumps(status)
    assert rollout_leftovers(tb) == ([], "")
    assert_valid_and_served(tb, nodes)


def test_killed_mid_way_then_run_again_resumes_from_where_each_node_is(bed, nodes, pristine):
    tb = bed
    followers, leader = followers_and_leader(tb)
    first = subprocess.Popen([str(REPO / "tools" / "testbed"), "exec", "cp1", "--",
                              *argv(nodes["cp1"].binary, "--to=v1.0.4")],
                             env=tb.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second_step = f"kvip-exporter-step-k8s-{followers[1]}"
    wait_for(lambda: tb.kubectl("-n", "kube-system", "get", "pod", second_step,
                                "--ignore-not-found", "-o", "name").strip(),
             timeout=300, interval=0.5, what=f"the rollout to reach {followers[1]}")
    # A second rollout while the first runs: refused, naming the holder.
    code, report, _ = rollout(tb, nodes, "--to=v1.0.4")
    assert code == 5, report
    assert "another rollout holds the lock" in report["message"], report["message"]
    assert f"/{first.pid}/" in report["message"]
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert nodes[followers[0]].manifest.read_text() == pristine[followers[0]].replace(OLD, NEW)

    code, report, progress = rollout(tb, nodes, "--to=v1.0.4")
    assert code == (0 if restarts_judged_truly(tb, report["verify"]) else 1), report
    # The step the killed rollout left running is adopted first; then the plan, in which the
    # two followers are done already and the leader goes last.
    assert node_names(report) == [followers[1], followers[0], followers[1], leader], report["nodes"]
    details = [c["detail"] for c in report["nodes"]]
    assert details[0].startswith("adopted: upgraded (exit 0)"), details
    assert all("already runs v1.0.4" in d for d in details[1:3]), details
    assert details[3].startswith("upgraded (exit 0)"), details
    assert any("dead" in c["detail"] or "has ended" in c["detail"] or "expired" in c["detail"]
               for c in report["preflight"] if c["name"] == "lock"), report["preflight"]
    for name, node in nodes.items():
        assert node.manifest.read_text() == pristine[name].replace(OLD, NEW)
    assert rollout_leftovers(tb) == ([], "")
    assert_valid_and_served(tb, nodes)
