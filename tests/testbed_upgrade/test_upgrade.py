"""`kvip-exporter upgrade`, `verify` and `recover` on the testbed (issue 8, "Proven on the
testbed"): a full rolling upgrade v1.0.3 -> v1.0.4 in the seed's order while a 10 Hz VIP
probe runs in the lan namespace (outside the nodes), and one fault injection per step.
Every test starts from all nodes on v1.0.3 and ends with a valid manifest on every node
and the VIP served.

Run as root: KVIP_TESTBED=kvu /usr/bin/python3 -m pytest -s tests/testbed_upgrade
(the binary: $KVIP_EXPORTER_BIN, else the tools/test build).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from testbed_fixture import NODES, VIP, testbed, wait_for  # noqa: F401

from upgrade_bed import (  # noqa: F401  (fixtures by name)
    EXITS_TAG, GROUP_VARS, IMAGE, NEW, OLD, REPO, VipProbe, assert_valid_and_served, baseline,
    exiting_tag, followers_and_leader, nodes, pristine, restarts_judged_truly, vip_served,
    write_atomically)

# --- the full rolling upgrade, in the seed's order -------------------------------------

def test_rolling_upgrade_followers_first_then_the_leader(baseline, nodes, pristine, tmp_path):
    tb = baseline
    followers, leader = followers_and_leader(tb)
    group_vars = tmp_path / "all.yml"
    shutil.copy(GROUP_VARS, group_vars)
    verify_baseline = tmp_path / "verify-baseline.json"
    code, report = nodes["cp1"].run("verify", f"--record-baseline={verify_baseline}")
    assert code == 0, report
    probe = VipProbe(tb, nodes)
    try:
        # The guard: the leader first is refused, naming the nodes to do first.
        code, report = nodes[leader].run("upgrade", "--to=v1.0.4")
        assert code == 5, report
        guard = next(c for c in report["preflight"] if c["name"] == "leader-last")
        assert all(f"k8s-{f}" in guard["detail"] for f in followers), guard
        assert report["steps"] == [] and nodes[leader].image_in_manifest() == OLD

        timings = {}
        for name in followers + [leader]:
            start = time.monotonic()
            extra = [f"--ansible-group-vars={group_vars}"] if name == leader else []
            code, report = nodes[name].run("upgrade", "--to=v1.0.4", *extra)
            timings[name] = time.monotonic() - start
            assert code == 0, report
            assert report["result"] == "upgraded"
            assert report["was_leader"] == (name == leader)
            assert nodes[name].image_in_manifest() == NEW
            backup = nodes[name].root / "etc" / "kubernetes" / "kube-vip.yaml.v1.0.3.bak"
            assert backup.read_text() == pristine[name]
            # Byte for byte: only the image changed.
            assert nodes[name].manifest.read_text() == pristine[name].replace(OLD, NEW)
            assert oct(nodes[name].manifest.stat().st_mode) == oct(backup.stat().st_mode)
            assert nodes[name].state()["step"] == "done"
        assert tb.leader() != leader, "the old leader handed over"
    finally:
        probes, total, longest = probe.stop()
    print(f"rolling upgrade ({', '.join(followers)} then leader {leader}): "
          f"{', '.join(f'{n} {s:.1f}s' for n, s in timings.items())}; VIP probe {probes} probes at 10 Hz, "
          f"unavailable {total:.2f}s in total, longest {longest:.2f}s")
    assert group_vars.read_text() == GROUP_VARS.read_text().replace('kubevip_version: "v1.0.3"',
                                                                    'kubevip_version: "v1.0.4"')
    code, report = nodes["cp1"].run("verify", "--expect-version=v1.0.4", f"--baseline={verify_baseline}")
    # Every pod was recreated by its manifest change: restarts since are judged (exit 6 if any).
    assert code == (0 if restarts_judged_truly(tb, report["checks"]) else 6), report
    # Already there: verify-only, exit 0.
    code, report = nodes[leader].run("upgrade", "--to=v1.0.4")
    assert (code, report["result"]) == (0, "already-at-target"), report
    assert_valid_and_served(tb, nodes)


def test_a_digest_pinned_upgrade_runs_exactly_that_image(baseline, nodes, pristine):
    tb = baseline
    followers, _ = followers_and_leader(tb)
    node = nodes[followers[0]]
    head = subprocess.run(
        ["nsenter", f"--net=/run/netns/{tb.name}-lan", "--", "curl", "-fsSI",
         "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
         "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
         "http://10.10.30.1:5000/v2/kube-vip/kube-vip/manifests/v1.0.4"],
        check=True, capture_output=True, text=True).stdout
    digest = re.search(r"(?im)^docker-content-digest: (sha256:[0-9a-f]{64})", head).group(1)
    node.forget_image(NEW)
    code, report = node.run("upgrade", "--to=v1.0.4", f"--image-digest={digest}")
    assert code == 0, report
    pinned = f"{NEW}@{digest}"
    assert report["to"] == pinned
    assert node.manifest.read_text() == pristine[node.name].replace(OLD, pinned)
    assert node.runs(pinned)
    assert tb.mirror_pod(node.name, "{.status.containerStatuses[0].imageID}").endswith(digest)
    assert_valid_and_served(tb, nodes)


# --- faults, one per step ----------------------------------------------------------------

def test_pull_fails_with_the_registry_stopped_and_nothing_changes(baseline, nodes):
    tb = baseline
    followers, _ = followers_and_leader(tb)
    node = nodes[followers[0]]
    before = node.manifest.read_bytes()
    node.forget_image(NEW)
    registry = int((Path("/var/lib/kvip-testbed") / tb.name / "run" / "registry.pid").read_text())
    os.kill(registry, signal.SIGSTOP)
    try:
        code, report = node.run("upgrade", "--to=v1.0.4", "--pull-timeout=10s")
    finally:
        os.kill(registry, signal.SIGCONT)
    assert code == 7, report
    pull = report["steps"][-1]
    assert pull["name"] == "pull" and not pull["ok"] and "timed out" in pull["detail"], pull
    assert node.manifest.read_bytes() == before
    assert node.state()["step"] == "rolled-back" and "pull" in node.state()["failure"]
    assert_valid_and_served(tb, nodes)


def test_a_version_that_never_becomes_ready_is_rolled_back(baseline, nodes, pristine, exiting_tag):
    tb = baseline
    followers, _ = followers_and_leader(tb)
    node = nodes[followers[0]]
    start = time.monotonic()
    code, report = node.run("upgrade", f"--to={exiting_tag}", "--timeout=90s")
    print(f"failed upgrade and rollback took {time.monotonic() - start:.1f}s")
    assert code == 9, report
    assert report["result"] == "rolled-back"
    wait_new = next(s for s in report["steps"] if s["name"] == "wait-new")
    assert not wait_new["ok"] and "CrashLoopBackOff" in wait_new["detail"], wait_new
    assert next(s for s in report["steps"] if s["name"] == "wait-rollback")["ok"]
    assert node.manifest.read_text() == pristine[node.name]
    assert node.runs(OLD)
    assert node.state()["step"] == "rolled-back"
    assert_valid_and_served(tb, nodes)


def test_the_vip_not_retaken_in_time_rolls_the_leader_back(baseline, nodes, pristine):
    tb = baseline
    followers, leader = followers_and_leader(tb)
    # Nobody else can take over: the followers' kube-vips are frozen (alive for kubelet).
    # 60 s per wait: the rollback's wait includes the kubelet noticing the restored manifest
    # and the 10 s settle; in CI at load ~6, 40 s once ran out while still settling.
    for name in followers:
        tb.tool("fault", name, "freeze-kubevip")
    try:
        code, report = nodes[leader].run("upgrade", "--to=v1.0.4", "--allow-leader", "--timeout=60s")
    finally:
        tb.tool("heal")
    assert code == 9, report
    wait_new = next(s for s in report["steps"] if s["name"] == "wait-new")
    assert "waiting for another to take over" in wait_new["detail"], wait_new
    assert nodes[leader].manifest.read_text() == pristine[leader]
    assert_valid_and_served(tb, nodes)


def test_a_malformed_manifest_is_refused_then_restored_from_backup(baseline, nodes, pristine):
    tb = baseline
    followers, _ = followers_and_leader(tb)
    node = nodes[followers[0]]
    broken = pristine[node.name].replace("    env:\n", "     env:\n", 1)
    write_atomically(node.manifest, broken)
    code, report = node.run("upgrade", "--to=v1.0.4")
    assert code == 3, report
    assert f"{node.manifest}: invalid YAML at line" in report["message"], report
    assert node.manifest.read_text() == broken
    assert node.state() is None and not list(node.root.glob("etc/kubernetes/*.bak"))
    # The operator's way back (scenario A): a known-good copy restored atomically.
    backup = node.root / "etc" / "kubernetes" / "kube-vip.yaml.v1.0.3.bak"
    backup.write_text(pristine[node.name])
    code, report = node.run("recover", "--restore-backup", "--timeout=90s")
    assert code == 0, report
    assert node.manifest.read_text() == pristine[node.name]
    assert_valid_and_served(tb, nodes)


def test_a_full_backup_disk_stops_the_upgrade_before_anything_changes(baseline, nodes, tmp_path):
    tb = baseline
    followers, _ = followers_and_leader(tb)
    node = nodes[followers[0]]
    before = node.manifest.read_bytes()
    disk = tmp_path / "backup-disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], check=True)
    try:
        with open(disk / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"x" * 4096)
            except OSError:
                pass
        code, report = node.run("upgrade", "--to=v1.0.4", f"--backup-dir={disk}")
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    assert code == 6, report
    check = next(c for c in report["preflight"] if c["name"] == "backup")
    assert not check["ok"] and "bytes free" in check["detail"], check
    assert report["steps"] == []
    assert node.manifest.read_bytes() == before and node.state() is None
    assert_valid_and_served(tb, nodes)


@pytest.mark.parametrize("kill_at,then", [
    ("backed-up", "resume"),   # killed during the pull
    ("waiting", "resume"),     # killed after the rewrite, during the waits
    ("waiting", "rollback"),   # the same, then the operator asks for a rollback
])
def test_killed_between_steps_then_rerun(baseline, nodes, pristine, kill_at, then):
    tb = baseline
    followers, _ = followers_and_leader(tb)
    node = nodes[followers[0]]
    node.forget_image(NEW)  # the pull takes long enough to be killed in
    proc = node.start("upgrade", "--to=v1.0.4")
    wait_for(lambda: (node.state() or {}).get("step") == kill_at, timeout=120, interval=0.02,
             what=f"the upgrade to reach step {kill_at}")
    assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "kvip-exporter"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert node.state()["step"] == kill_at
    if then == "resume":
        code, report = node.run("upgrade", "--to=v1.0.4")
        assert code == 0, report
        assert report["steps"][0]["name"] == "resume" and report["steps"][0]["ok"], report["steps"][0]
        assert node.manifest.read_text() == pristine[node.name].replace(OLD, NEW)
        assert node.state()["step"] == "done"
    else:
        code, report = node.run("upgrade", "--rollback")
        assert code == 0, report
        assert report["result"] == "rolled-back"
        assert node.manifest.read_text() == pristine[node.name]
    assert_valid_and_served(tb, nodes)


@pytest.fixture
def node_exporters(baseline, nodes):
    """kvip-exporter serving on every node's IP:9112 (inside the node), as deployed."""
    procs = []
    for node in nodes.values():
        ip = node.tb.env(node.name)["NODE_IP"]
        procs.append(subprocess.Popen(
            [str(REPO / "tools" / "testbed"), "exec", node.name, "--", node.binary,
             f"--web.listen-address={ip}:9112", f"--kubevip.manifest={node.manifest}",
             "--no-lease.watch", "--no-kubevip.log", "--log.level=warn"],
            env=baseline.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    urls = [f"http://10.10.30.1{n[-1]}:9112/metrics" for n in NODES]
    for url in urls:
        wait_for(lambda: baseline.curl("cp1", url)[0] == 0, timeout=30, what=f"{url} answering")
    yield ",".join(urls)
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def test_recover_deletes_a_stale_lease_only_when_no_node_holds_the_vip(baseline, nodes, node_exporters):
    """The seed's scenario B: every kube-vip silent (frozen), so the lease goes stale."""
    tb = baseline
    recover = nodes["cp1"]
    urls = f"--exporter-urls={node_exporters}"
    code, report = recover.run("recover", urls)
    assert (code, report["result"]) == (0, "nothing-to-do"), report

    _, leader = followers_and_leader(tb)
    for name in NODES:
        tb.tool("fault", name, "freeze-kubevip")
    # 1. The lease is stale but the frozen leader still has the VIP: refused.
    wait_for(lambda: recover.run("recover", urls, "--dry-run")[1].get("result") == "refused",
             timeout=30, interval=1, what="the lease to go stale")
    code, report = recover.run("recover", urls)
    assert code == 5, report
    blocking = [c["detail"] for c in report["checks"] if not c["ok"]]
    assert any(f"k8s-{leader}" in d and "holds the VIP" in d for d in blocking), blocking
    assert tb.lease_holder() == f"k8s-{leader}", "the lease was not touched"

    # 2. The VIP gone from every node for longer than the lease duration: deleted.
    tb.exec(leader, "ip", "addr", "del", f"{VIP}/32", "dev", "eno1")
    wait_for(lambda: recover.run("recover", urls, "--dry-run")[1].get("result") == "planned",
             timeout=30, interval=1, what="no VIP holder for longer than the lease duration")
    proc = recover.start("recover", urls, "--timeout=90s")
    wait_for(lambda: tb.lease_holder() is None, timeout=30, interval=0.2, what="the lease deleted")
    tb.tool("heal")  # kube-vips wake up and elect a new leader
    out, err = proc.communicate(timeout=120)
    report = json.loads(out)
    assert proc.returncode == 0, (report, err)
    assert report["result"] == "recovered"
    assert any(c["name"] == "delete" and c["ok"] for c in report["checks"])
    assert_valid_and_served(tb, nodes)
