"""The kube-vip manifest as the daemon and the one-shot modes meet it, without a cluster.

Everything that could send a packet runs in a private network namespace (loopback only):
the daemon, `upgrade`, `verify` and `recover`. Debian's prometheus-node-exporter stands in
for kube-vip's :2112 where a mode waits for kube-vip to answer. Cluster behaviour (pods,
lease, VIP failover) is proven on the testbed: tests/testbed_upgrade/.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, parse_metrics, run, wait_for

FIXTURES = REPO / "tests" / "unit" / "fixtures" / "manifest"
GENERATED = FIXTURES / "kube-vip-generated-v1.0.3.yaml"
LISTEN = "127.0.0.1:9112"
UPSTREAM = "127.0.0.1:2112"


def write_atomically(path, text):
    """Like kubelet expects manifests to be written: a dot-file, then rename."""
    tmp = path.parent / f".{path.name}.test-tmp"
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def node_tree(tmp_path):
    """etc/kubernetes/manifests/kube-vip.yaml as kube-vip v1.0.3 generates it."""
    manifests = tmp_path / "etc" / "kubernetes" / "manifests"
    manifests.mkdir(parents=True)
    manifest = manifests / "kube-vip.yaml"
    shutil.copy(GENERATED, manifest)
    manifest.chmod(0o600)
    return tmp_path


def manifest_of(tree):
    return tree / "etc" / "kubernetes" / "manifests" / "kube-vip.yaml"


def start_daemon(netns, exporter_bin, tmp_path, manifest, *flags, healthz=False):
    log = open(tmp_path / "exporter.log", "w")
    proc = netns.popen(exporter_bin, f"--web.listen-address={LISTEN}", f"--kubevip.manifest={manifest}",
                       "--node-name=test-node", "--no-lease.watch", "--no-kubevip.log", "--no-apiserver.livez", "--no-kubevip.pod",
                       *([] if healthz else ["--no-vip.healthz"]), *flags,
                       stdout=subprocess.DEVNULL, stderr=log)
    wait_for(lambda: netns.http_get(f"http://{LISTEN}/healthz")[0] == 200, what="exporter serving")
    return proc


def scrape(netns):
    status, body = netns.http_get(f"http://{LISTEN}/metrics")
    assert status == 200
    return parse_metrics(body)


def mode(netns, exporter_bin, *argv, timeout=60):
    """Runs a one-shot mode in the namespace; returns CompletedProcess."""
    return netns.run(exporter_bin, *argv, "--log.level=warn", check=False, timeout=timeout)


# --- the daemon: Resolve() and the manifest collector ---------------------------------

def test_manifest_env_feeds_the_daemon_and_flags_win(netns, exporter_bin, tmp_path, node_tree):
    manifest = manifest_of(node_tree)
    start_daemon(netns, exporter_bin, tmp_path, manifest, "--vip.interface=lo")
    samples = scrape(netns)
    # address from the manifest, interface from the flag.
    assert 'kubevip_vip_bound{vip="10.10.30.10",interface="lo"}' in samples, samples.keys()
    info = 'kubevip_manifest_info{image="ghcr.io/kube-vip/kube-vip:v1.0.3",version="v1.0.3"}'
    assert samples[info] == 1
    assert samples['kvip_exporter_collector_success{collector="manifest"}'] == 1
    log = (tmp_path / "exporter.log").read_text()
    assert "read the kube-vip manifest" in log and str(manifest) in log, log

    # An upgrade's rename is seen at the next scrape.
    write_atomically(manifest, GENERATED.read_text().replace(":v1.0.3", ":v1.0.4"))
    new_info = 'kubevip_manifest_info{image="ghcr.io/kube-vip/kube-vip:v1.0.4",version="v1.0.4"}'
    wait_for(lambda: new_info in scrape(netns), what="kubevip_manifest_info to follow the rename")
    assert info not in scrape(netns)


def test_manifest_port_is_where_the_healthz_probe_goes_unless_the_flag_says(netns, exporter_bin, tmp_path,
                                                                          node_tree):
    manifest = manifest_of(node_tree)
    manifest.write_text(manifest.read_text().replace('value: "6443"', 'value: "8443"'))
    log = tmp_path / "exporter.log"
    proc = start_daemon(netns, exporter_bin, tmp_path, manifest, "--vip.healthz-insecure", healthz=True)
    # Nothing serves the VIP in this namespace: the probe fails, and its log names the URL.
    wait_for(lambda: "https://10.10.30.10:8443/healthz" in log.read_text(), what="a probe of the manifest's port")
    proc.terminate()
    proc.wait(timeout=10)
    start_daemon(netns, exporter_bin, tmp_path, manifest, "--vip.healthz-insecure", "--vip.healthz-port=9443",
                 healthz=True)
    wait_for(lambda: "https://10.10.30.10:9443/healthz" in log.read_text(), what="a probe of the flag's port")


def test_malformed_manifest_is_one_clear_error_then_flags(netns, exporter_bin, tmp_path):
    malformed = FIXTURES / "malformed.yaml"
    proc = start_daemon(netns, exporter_bin, tmp_path, malformed, "--vip.address=192.0.2.10",
                        "--vip.interface=lo")
    samples = scrape(netns)
    assert 'kubevip_vip_bound{vip="192.0.2.10",interface="lo"}' in samples, samples.keys()
    assert samples['kvip_exporter_collector_success{collector="manifest"}'] == 0
    assert not any(k.startswith("kubevip_manifest_info") for k in samples)
    scrape(netns)
    assert proc.poll() is None
    log = (tmp_path / "exporter.log").read_text()
    errors = [line for line in log.splitlines() if "level=error" in line]
    assert len(errors) == 1, log
    assert f"{malformed}: invalid YAML at line 7" in errors[0], errors[0]
    assert "using flags and defaults" in errors[0]
    # The collector warns once, not on every scrape.
    assert sum("cannot read the kube-vip manifest" in line for line in log.splitlines()) == 1, log


# --- upgrade: what it refuses before touching anything --------------------------------

@pytest.mark.parametrize("argv,complaint", [
    ([], "--to is required"),
    (["--to", "v1.0.4 "], "is not an image tag"),
    (["--to", "v1.0.4", "--image-digest", "sha256:abc"], "is not sha256:<64 hex>"),
    (["--to", "v1.0.4", "--output", "xml"], "unknown format"),
    (["--to", "v1.0.4", "--runtime", "docker"], "unknown runtime CLI"),
    (["--to", "v1.0.4", "--timeout", "90"], "Missing mandatory unit"),
])
def test_upgrade_usage_errors_exit_2(netns, exporter_bin, node_tree, argv, complaint):
    out = mode(netns, exporter_bin, "upgrade", f"--kubevip.manifest={manifest_of(node_tree)}", *argv)
    assert out.returncode == 2, out
    assert complaint in out.stderr, out.stderr


def test_upgrade_names_the_malformed_manifest_and_exits_3(netns, exporter_bin, tmp_path):
    out = mode(netns, exporter_bin, "upgrade", "--to=v1.0.4", f"--kubevip.manifest={FIXTURES}/malformed.yaml",
               f"--state-dir={tmp_path}/state", "--output=json")
    assert out.returncode == 3, out
    report = json.loads(out.stdout)
    assert report["result"] == "failed"
    assert f"{FIXTURES}/malformed.yaml: invalid YAML at line 7" in report["message"]
    assert not (tmp_path / "state").exists()

    out = mode(netns, exporter_bin, "upgrade", "--to=v1.0.4", f"--kubevip.manifest={tmp_path}/missing.yaml",
               f"--state-dir={tmp_path}/state")
    assert out.returncode == 3, out
    assert f"{tmp_path}/missing.yaml: cannot read: No such file or directory" in out.stdout


def test_upgrade_without_a_cluster_refuses_in_preflight_and_changes_nothing(netns, exporter_bin, node_tree):
    manifest = manifest_of(node_tree)
    before = manifest.read_bytes()
    kubeconfig = node_tree / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n")
    out = mode(netns, exporter_bin, "upgrade", "--to=v1.0.4", f"--kubevip.manifest={manifest}",
               f"--kubeconfig={kubeconfig}", "--node-name=k8s-cp1", f"--state-dir={node_tree}/state",
               f"--containerd-address={node_tree}/no-containerd.sock", "--preflight-wait=2s",
               "--output=json")
    assert out.returncode == 4, out  # unhealthy for the 2 s of --preflight-wait: refused
    report = json.loads(out.stdout)
    assert report["result"] == "refused" and report["exit_code"] == 4
    checks = {c["name"]: c for c in report["preflight"]}
    assert checks["manifest"]["ok"]
    assert not checks["vip-healthz"]["ok"]
    assert "https://10.10.30.10:6443/healthz" in checks["vip-healthz"]["detail"]
    assert not checks["lease"]["ok"] and "https://127.0.0.1:1" in checks["lease"]["detail"]
    assert checks["backup"]["ok"], checks["backup"]
    assert not checks["runtime"]["ok"] and "no-containerd.sock" in checks["runtime"]["detail"]
    assert report["steps"] == []
    assert manifest.read_bytes() == before
    assert not list(node_tree.glob("etc/kubernetes/*.bak"))
    assert not (node_tree / "state" / "upgrade-state.json").exists()


@pytest.mark.parametrize("runtime,env,flag,expected", [
    ("ctr", {"CONTAINERD_ADDRESS": "env-containerd.sock"}, None, "env-containerd.sock"),
    ("ctr", {"CONTAINERD_ADDRESS": "env-containerd.sock"}, "--containerd-address=flag.sock", "flag.sock"),
    ("crictl", {"CONTAINER_RUNTIME_ENDPOINT": "unix:///env-cri.sock"}, None, "unix:///env-cri.sock"),
    ("crictl", {"CONTAINER_RUNTIME_ENDPOINT": "unix:///env-cri.sock"},
     "--runtime-endpoint=unix:///flag-cri.sock", "unix:///flag-cri.sock"),
])
def test_upgrade_reads_the_runtime_socket_from_the_environment_as_ctr_and_crictl_do(
        netns, exporter_bin, node_tree, runtime, env, flag, expected):
    """No flag: $CONTAINERD_ADDRESS (ctr) and $CONTAINER_RUNTIME_ENDPOINT (crictl); a flag wins.
    The preflight's runtime line shows the argv it ran."""
    out = netns.run(exporter_bin, "upgrade", "--to=v1.0.4", f"--kubevip.manifest={manifest_of(node_tree)}",
                    f"--kubeconfig={node_tree}/missing-kubeconfig", f"--state-dir={node_tree}/state",
                    f"--runtime={runtime}", "--preflight-wait=0s", "--output=json", "--log.level=warn",
                    *([flag] if flag else []), check=False, timeout=60, env={**os.environ, **env})
    assert out.returncode == 4, out
    runtime_line = next(c for c in json.loads(out.stdout)["preflight"] if c["name"] == "runtime")
    assert expected in runtime_line["detail"], runtime_line
    if flag:
        assert next(iter(env.values())) not in runtime_line["detail"], runtime_line


def test_upgrade_state_that_disagrees_is_refused_with_what_to_do(netns, exporter_bin, node_tree):
    manifest = manifest_of(node_tree)
    state_dir = node_tree / "state"
    out = mode(netns, exporter_bin, "upgrade", "--rollback", f"--kubevip.manifest={manifest}",
               f"--state-dir={state_dir}")
    assert out.returncode == 11, out
    assert "no upgrade to undo is recorded" in out.stdout and "recover --restore-backup" in out.stdout
    state_dir.mkdir()
    state = {"version": 1, "manifest": str(manifest), "node": "k8s-cp1",
             "from_image": "ghcr.io/kube-vip/kube-vip:v1.0.3", "to_image": "ghcr.io/kube-vip/kube-vip:v1.0.4",
             "backup": str(node_tree / "etc/kubernetes/kube-vip.yaml.v1.0.3.bak"), "step": "pulled",
             "was_leader": False, "started_at": 1.0, "updated_at": 2.0, "rewritten_at": 0, "failure": ""}
    (state_dir / "upgrade-state.json").write_text(json.dumps(state))
    out = mode(netns, exporter_bin, "upgrade", "--to=v1.0.5", f"--kubevip.manifest={manifest}",
               f"--state-dir={state_dir}")
    assert out.returncode == 11, out
    assert "re-run with --to for ghcr.io/kube-vip/kube-vip:v1.0.4 to resume it, or with --rollback" in out.stdout

    # --rollback before the manifest changed: nothing to restore, recorded as rolled back.
    out = mode(netns, exporter_bin, "upgrade", "--rollback", f"--kubevip.manifest={manifest}",
               f"--state-dir={state_dir}")
    assert out.returncode == 0, out
    assert json.loads((state_dir / "upgrade-state.json").read_text())["step"] == "rolled-back"

    (state_dir / "upgrade-state.json").write_text("{\"version\": 1, \"step\"")
    out = mode(netns, exporter_bin, "upgrade", "--to=v1.0.4", f"--kubevip.manifest={manifest}",
               f"--state-dir={state_dir}")
    assert out.returncode == 11, out
    assert f"{state_dir}/upgrade-state.json: not a JSON object" in out.stdout


# --- verify and recover without a cluster ---------------------------------------------

def test_verify_without_api_fails_with_reasons(netns, exporter_bin, node_tree):
    out = mode(netns, exporter_bin, "verify", f"--kubevip.manifest={manifest_of(node_tree)}",
               f"--kubeconfig={node_tree}/missing-kubeconfig", "--output=json")
    # The first failing item in checklist order decides the code: the VIP's /healthz (3).
    assert out.returncode == 3, out
    report = json.loads(out.stdout)
    assert report["ok"] is False and report["expected_version"] == "v1.0.3"
    assert report["exit_code"] == 3 and report["failed_item"] == "vip"
    details = " ".join(c["detail"] for c in report["checks"] if not c["ok"])
    assert "missing-kubeconfig" in details, details


def test_verify_baseline_usage_errors_exit_2(netns, exporter_bin, node_tree):
    manifest = f"--kubevip.manifest={manifest_of(node_tree)}"
    out = mode(netns, exporter_bin, "verify", manifest, f"--baseline={node_tree}/missing.json")
    assert out.returncode == 2, out
    assert f"--baseline: {node_tree}/missing.json: cannot read: No such file or directory" in out.stderr
    (node_tree / "garbage.json").write_text("{\"version\": 1, \"pods\": [{\"node\": \"cp1\"}]}")
    out = mode(netns, exporter_bin, "verify", manifest, f"--baseline={node_tree}/garbage.json")
    assert out.returncode == 2, out
    assert f"{node_tree}/garbage.json: pods[0]: needs a node" in out.stderr
    out = mode(netns, exporter_bin, "verify", manifest, "--baseline=a", "--record-baseline=b")
    assert out.returncode == 2 and "one or the other" in out.stderr, out
    # Recording without an API server: nothing written, exit 1, the reason in the report.
    out = mode(netns, exporter_bin, "verify", manifest, f"--kubeconfig={node_tree}/missing-kubeconfig",
               f"--record-baseline={node_tree}/baseline.json", "--output=json")
    assert out.returncode == 1, out
    report = json.loads(out.stdout)
    assert report["ok"] is False and "missing-kubeconfig" in report["checks"][0]["detail"]
    assert not (node_tree / "baseline.json").exists()


def test_recover_stale_lease_without_api_cannot_check(netns, exporter_bin, node_tree):
    out = mode(netns, exporter_bin, "recover", f"--kubevip.manifest={manifest_of(node_tree)}",
               f"--kubeconfig={node_tree}/missing-kubeconfig")
    assert out.returncode == 4, out
    assert "point --kubeconfig at a node's own API server" in out.stdout


def test_restore_backup_waits_for_kube_vip_to_answer(netns, exporter_bin, node_tree):
    manifest = manifest_of(node_tree)
    backup = node_tree / "etc" / "kubernetes" / "kube-vip.yaml.v1.0.3.bak"
    shutil.copy(GENERATED, backup)
    write_atomically(manifest, GENERATED.read_text().replace(":v1.0.3", ":v1.0.9-broken"))
    manifest.chmod(0o600)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns.name, str(exporter_bin), "recover", "--restore-backup",
         f"--kubevip.manifest={manifest}", f"--state-dir={node_tree}/state", "--timeout=30s",
         "--output=json", "--log.level=warn"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # As kubelet would: once the manifest is back, "kube-vip" (a Go exporter) starts.
    wait_for(lambda: manifest.read_bytes() == GENERATED.read_bytes(), what="the backup restored")
    netns.popen("prometheus-node-exporter", f"--web.listen-address={UPSTREAM}", "--collector.disable-defaults",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, (stdout, stderr)
    report = json.loads(stdout)
    assert report["result"] == "restored"
    assert oct(manifest.stat().st_mode & 0o7777) == "0o600", "the manifest keeps its mode"
    assert not list(manifest.parent.glob(".*")), "no temp file left in the manifests directory"


def test_restore_backup_reports_when_kube_vip_does_not_come_back(netns, exporter_bin, node_tree):
    manifest = manifest_of(node_tree)
    backup = node_tree / "backup.yaml"
    shutil.copy(GENERATED, backup)
    out = mode(netns, exporter_bin, "recover", "--restore-backup", f"--backup={backup}",
               f"--kubevip.manifest={manifest}", "--timeout=2s", f"--state-dir={node_tree}/state")
    assert out.returncode == 1, out
    assert "the backup is already in place" in out.stdout
    assert "no kube-vip answering at http://127.0.0.1:2112/metrics" in out.stdout


def test_restore_backup_onto_a_full_disk_changes_nothing(netns, exporter_bin, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", disk)
    try:
        manifests = disk / "manifests"
        manifests.mkdir()
        manifest = manifests / "kube-vip.yaml"
        broken = GENERATED.read_text().replace(":v1.0.3", ":v1.0.9-broken")
        manifest.write_text(broken)
        filler = disk / "filler"
        with open(filler, "wb", buffering=0) as f:  # fill the disk to the last block
            try:
                while True:
                    f.write(b"x" * 512)
            except OSError:
                pass
        out = mode(netns, exporter_bin, "recover", "--restore-backup", f"--backup={GENERATED}",
                   f"--kubevip.manifest={manifest}", "--timeout=1s", f"--state-dir={tmp_path}/state")
        assert out.returncode == 6, out
        assert "No space left on device" in out.stdout, out.stdout
        assert manifest.read_text() == broken
        assert not list(manifests.glob(".*")), "the temp file was removed"
    finally:
        run("umount", disk, check=False)
