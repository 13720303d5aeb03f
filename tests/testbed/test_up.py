"""`tools/testbed up`: the seed's control plane, checked as an operator would."""
import json
import subprocess

import yaml

from testbed_fixture import NODES, PEERS, VIP, testbed  # noqa: F401


def test_every_node_ready(testbed):
    nodes = json.loads(testbed.kubectl("get", "nodes", "-o", "json"))["items"]
    ready = {n["metadata"]["name"]: next(c["status"] for c in n["status"]["conditions"]
                                         if c["type"] == "Ready") for n in nodes}
    assert ready == {"k8s-cp1": "True", "k8s-cp2": "True", "k8s-cp3": "True"}


def test_one_vip_holder_and_it_holds_the_lease(testbed):
    holders = testbed.vip_holders()
    assert len(holders) == 1, holders
    assert testbed.lease_holder() == f"k8s-{holders[0]}"


def test_healthz_through_the_vip_from_cp1(testbed):
    assert testbed.curl("cp1", f"https://{VIP}:6443/healthz") == (0, "ok")


def test_each_kubevip_serves_metrics(testbed):
    for i, node in enumerate(NODES, start=1):
        code, body = testbed.curl("cp1", f"http://10.10.30.1{i}:2112/metrics")
        assert code == 0 and "go_goroutines" in body, node


def test_mirror_pods_show_the_static_pods(testbed):
    pods = json.loads(testbed.kubectl("-n", "kube-system", "get", "pods", "-o", "json"))["items"]
    by_name = {p["metadata"]["name"]: p for p in pods}
    for node in NODES:
        pod = by_name[f"kube-vip-k8s-{node}"]
        assert pod["spec"]["nodeName"] == f"k8s-{node}"
        assert pod["spec"]["containers"][0]["image"] == "ghcr.io/kube-vip/kube-vip:v1.0.3"
        assert pod["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
        assert pod["status"]["phase"] == "Running"


def test_manifest_is_kubevip_generator_output(testbed):
    """Only the admin.conf host path differs from what v1.0.3 writes on a real node."""
    env = testbed.env("cp2")
    kubevip = subprocess.run([str(PEERS), "path", "kube-vip-v1.0.3"],
                             capture_output=True, text=True, check=True).stdout.strip()
    generated = subprocess.run(
        [kubevip, "manifest", "pod", "--interface", "eno1", "--address", VIP, "--controlplane",
         "--arp", "--leaderElection", "--enableLoadBalancer=false"],
        capture_output=True, text=True, check=True).stdout
    want = yaml.safe_load(generated)
    want["spec"]["volumes"][0]["hostPath"]["path"] = f"{env['KVIP_NODE_ROOT']}/etc/kubernetes/admin.conf"
    with open(env["KUBEVIP_MANIFEST"]) as f:
        got = yaml.safe_load(f)
    assert got == want
    assert got["spec"]["containers"][0]["image"] == "ghcr.io/kube-vip/kube-vip:v1.0.3"


def test_env_points_at_the_node(testbed):
    for i, node in enumerate(NODES, start=1):
        env = testbed.env(node)
        assert env["NODE_NAME"] == f"k8s-{node}"
        assert env["NETNS"] == f"{testbed.name}-{node}"
        with open(env["KUBECONFIG"]) as f:
            kubeconfig = yaml.safe_load(f)
        assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://10.10.30.1{i}:6443"
        for key in ("KUBECTL", "CRICTL", "ETCDCTL"):
            assert subprocess.run(["test", "-x", env[key]]).returncode == 0, key
        assert testbed.exec(node, "hostname").stdout.strip() == f"k8s-{node}"
        assert testbed.exec(node, "sh", "-c", "test -d $KVIP_POD_LOG_DIR && test -S $CONTAINERD_ADDRESS").returncode == 0


def test_no_testbed_address_in_the_root_namespace():
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    assert "10.10.30." not in out


def test_up_again_is_a_no_op(testbed):
    before = testbed.exec("cp1", "crictl", "ps", "-q").stdout
    testbed.tool("up")
    assert testbed.exec("cp1", "crictl", "ps", "-q").stdout == before
    assert len(testbed.vip_holders()) == 1
