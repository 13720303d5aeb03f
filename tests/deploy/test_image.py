"""The container image (deploy/Dockerfile, built by tests/deploy/build-image) running on
the testbed's real kubelets, containerd and runc, with the DaemonSet's pod spec and the
static pod's, as a user would deploy them:

- the process really is uid 65534 with group 0, no capabilities, no_new_privs, seccomp on,
  a read-only root filesystem; the pods turn Ready through /healthz;
- each pod reports its own node, and (once those collectors exist) the lease holder and
  the VIP holder agree with the cluster;
- the static pod reads its lease through the make-kubeconfig kubeconfig and hostAliases.

The build takes 25-40 min on 2 cores, so it runs only with KVIP_DEPLOY_IMAGE=1, when
tests/deploy/build-image already built this tree, or with KVIP_IMAGE_LAYOUT=<oci dir:tag>;
otherwise the module is skipped with that reason. Only the host paths differ from the shipped manifests: the testbed's nodes
keep /etc/kubernetes and /var/log/pods under its state directory (the patch below).
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy_cluster import cluster, testbed  # noqa: F401  (fixtures)
from deploy_helpers import REPO, STATIC_POD, docs_of, kubectl_bin  # noqa: F401  (kubectl_bin: fixture)
from testbed_fixture import NODES, VIP, wait_for

BUILD_IMAGE = REPO / "tests" / "deploy" / "build-image"
IMAGE = "ghcr.io/rommelporras/kvip-exporter:v0.1.0"
REGISTRY_REPO = "rommelporras/kvip-exporter:v0.1.0"  # ghcr.io is mirrored to the lan registry
STATIC_PORT = 9113  # the DaemonSet's pod already holds :9112 on each node


@pytest.fixture(scope="module")
def image_layout():
    if os.environ.get("KVIP_IMAGE_LAYOUT"):  # an OCI layout:tag built earlier, used as is
        return os.environ["KVIP_IMAGE_LAYOUT"]
    built = subprocess.run([str(BUILD_IMAGE), "--if-built"], capture_output=True, text=True)
    if built.returncode == 0:
        return built.stdout.strip()
    if os.environ.get("KVIP_DEPLOY_IMAGE") != "1":
        reason = ("SKIP: the image of this tree is not built (25-40 min): run tests/deploy/build-image "
                  "or set KVIP_DEPLOY_IMAGE=1")
        print(reason)
        pytest.skip(reason)
    r = subprocess.run([str(BUILD_IMAGE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    return r.stdout.strip()


@pytest.fixture(scope="module")
def deployed(image_layout, cluster, kubectl_bin, tmp_path_factory):
    """The image in the testbed registry and one Pod per node from the DaemonSet template
    (the testbed runs no controller-manager, so no DaemonSet controller: the Pods are what
    it would create, bound to their node)."""
    tb = cluster.tb
    state = Path(cluster.env["KVIP_NODE_ROOT"]).parent
    subprocess.run(["nsenter", f"--net=/run/netns/{tb.name}-lan", "skopeo", "copy", "--quiet",
                    "--dest-tls-verify=false", f"oci:{image_layout}",
                    f"docker://10.10.30.1:5000/{REGISTRY_REPO}"], check=True, capture_output=True)
    for node in NODES:  # IfNotPresent would keep an image of an older tree
        tb.exec(node, "crictl", "rmi", IMAGE, check=False)
    # The patch: host paths of the testbed's node trees, reached as /testbed/<node name>.
    links = [state / f"k8s-{n}" for n in NODES]
    for n, link in zip(NODES, links):
        if not link.exists():
            link.symlink_to(n)
    work = tmp_path_factory.mktemp("image")
    overlay = work / "overlay"
    overlay.mkdir()
    root = os.path.relpath(REPO / "deploy" / "kubernetes", overlay)
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [f"{root}/overlays/prometheus-operator"],
        "patches": [{"target": {"kind": "DaemonSet", "name": "kvip-exporter"}, "patch": yaml.safe_dump([
            {"op": "replace", "path": "/spec/template/spec/volumes/0/hostPath/path", "value": str(state)},
            {"op": "replace", "path": "/spec/template/spec/containers/0/volumeMounts/0/mountPath",
             "value": "/testbed"},
            {"op": "remove", "path": "/spec/template/spec/volumes/1"},
            {"op": "remove", "path": "/spec/template/spec/containers/0/volumeMounts/1"},
            {"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": [
                "--web.listen-address=:9112",
                "--kubevip.manifest=/testbed/$(NODE_NAME)/etc/kubernetes/manifests/kube-vip.yaml",
                "--kubevip.log-path=/testbed/$(NODE_NAME)/var/log/pods/kube-system_kube-vip-*/kube-vip/*.log"]},
            # No kube-proxy here: in-cluster config dials the node's own API server.
            {"op": "add", "path": "/spec/template/spec/containers/0/env/-",
             "value": {"name": "KUBERNETES_SERVICE_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}},
            {"op": "add", "path": "/spec/template/spec/containers/0/env/-",
             "value": {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"}},
        ])}]}))
    r = subprocess.run([str(kubectl_bin), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(overlay)],
                       capture_output=True, text=True, check=True)
    docs = docs_of(r.stdout)
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    pods = []
    for n in NODES:
        pod = json.loads(json.dumps(ds["spec"]["template"]))
        pod.update(apiVersion="v1", kind="Pod")
        pod["metadata"].update(name=f"kvip-exporter-k8s-{n}", namespace="monitoring")
        pod["spec"]["nodeName"] = f"k8s-{n}"
        pods.append(pod)
    others = [d for d in docs if d["kind"] in ("ServiceAccount", "Role", "RoleBinding", "Service")]
    cluster.ensure("configmap/kube-root-ca.crt", "monitoring", "-n", "monitoring", "create", "configmap",
                   "kube-root-ca.crt", f"--from-file=ca.crt={state / 'pki' / 'ca.crt'}")
    # kubelets cannot label themselves with node-role.kubernetes.io/*: label the testbed's
    # nodes as kubeadm labels control-plane nodes, for the DaemonSet's nodeSelector.
    role = "node-role.kubernetes.io/control-plane"
    labelled = [n for n in NODES if role not in json.loads(
        cluster.kubectl("get", "node", f"k8s-{n}", "-o", "json").stdout)["metadata"]["labels"]]
    for n in labelled:
        cluster.kubectl("label", "node", f"k8s-{n}", f"{role}=")
    cluster.apply(others + pods)
    cluster.kubectl("-n", "monitoring", "wait", "--for=condition=Ready", "--timeout=120s",
                    *[f"pod/{p['metadata']['name']}" for p in pods])
    yield cluster
    cluster.kubectl("-n", "monitoring", "delete", "--wait=true", "--timeout=60s",
                    *[f"pod/{p['metadata']['name']}" for p in pods], check=False)
    for n in labelled:
        cluster.kubectl("label", "node", f"k8s-{n}", f"{role}-", check=False)
    for link in links:
        link.unlink(missing_ok=True)


def exporter_processes(tb, node, port_hint=None):
    """/proc/<pid>/status of the kvip-exporter processes in NODE's network namespace."""
    netns = os.stat(f"/run/netns/{tb.name}-{node}").st_ino
    found = []
    for pid in subprocess.run(["pgrep", "-f", "^/usr/bin/kvip-exporter"], capture_output=True,
                              text=True).stdout.split():
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino != netns:
                continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_text()
            if port_hint is None or f":{port_hint}" in cmdline:
                found.append(Path(f"/proc/{pid}/status").read_text())
        except FileNotFoundError:
            continue
    return found


def field(status, name):
    return re.search(rf"^{name}:\s*(.*)$", status, re.MULTILINE).group(1).split()


def metrics_of(cluster, url):
    r = cluster.run_in_node("curl", "-s", "--max-time", "2", url)
    return r.stdout if r.returncode == 0 and "kvip_exporter_build_info" in r.stdout else None


def test_pods_run_unprivileged_on_every_node(deployed):
    tb = deployed.tb
    for node in NODES:
        (status,) = exporter_processes(tb, node, 9112)
        assert field(status, "Uid") == ["65534"] * 4 and field(status, "Gid") == ["65534"] * 4
        assert "0" in field(status, "Groups")
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert field(status, cap) == ["0000000000000000"], (node, cap)
        assert field(status, "NoNewPrivs") == ["1"] and field(status, "Seccomp") == ["2"]
        print(f"{node}: exporter VmRSS {field(status, 'VmRSS')[0]} kB, VmHWM {field(status, 'VmHWM')[0]} kB")
        container = tb.exec(node, "crictl", "ps", "--name", "kvip-exporter", "-q").stdout.split()[0]
        touch = tb.exec(node, "crictl", "exec", container, "touch", "/probe", check=False)
        assert touch.returncode != 0, "the root filesystem is writable"


def test_each_pod_reports_its_node_and_agrees_with_the_cluster(deployed):
    tb = deployed.tb
    holder, vip_holders = tb.lease_holder(), tb.vip_holders()
    for i, node in enumerate(NODES, start=1):
        body = wait_for(lambda: metrics_of(deployed, f"http://10.10.30.1{i}:9112/metrics"), timeout=20,
                        what=f"/metrics of {node}")
        assert f'kvip_exporter_node_info{{node="k8s-{node}"}} 1' in body

        def failing_collectors():
            text = metrics_of(deployed, f"http://10.10.30.1{i}:9112/metrics") or ""
            return re.findall(r'^kvip_exporter_collector_success{collector="([^"]+)"} 0$', text, re.MULTILINE)

        # Every source works from inside the pod: kube-vip :2112, manifest, log, netlink,
        # lease (in-cluster credentials), VIP healthz (verified with the cluster CA).
        wait_for(lambda: not failing_collectors(), timeout=30, what=f"every collector succeeding on {node}")
        if "kubevip_is_leader" in body:
            leader = 1 if holder == f"k8s-{node}" else 0
            wait_for(lambda: re.search(rf"^kubevip_is_leader{{[^}}]*}} {leader}$",
                                       metrics_of(deployed, f"http://10.10.30.1{i}:9112/metrics") or "", re.MULTILINE),
                     timeout=20, what=f"kubevip_is_leader {leader} on {node}")
        else:
            print("SKIP part: no lease collector in this image")
        if "kubevip_vip_bound" in body:
            bound = 1 if node in vip_holders else 0
            assert re.search(rf'^kubevip_vip_bound{{[^}}]*vip="{VIP}"[^}}]*}} {bound}$', body, re.MULTILINE), body


def test_static_pod_reads_the_lease_through_its_own_kubeconfig(deployed):
    tb, cluster = deployed.tb, deployed
    node = "cp2"
    root = Path(cluster.env["KVIP_NODE_ROOT"]).parent / node
    kubeconfig_dir = root / "etc" / "kvip-exporter"
    kubeconfig_dir.mkdir(parents=True, exist_ok=True)
    cluster.apply(list(yaml.safe_load_all((REPO / "deploy/static-pod/rbac.yaml").read_text())))
    r = tb.exec("cp1", str(REPO / "deploy/static-pod/make-kubeconfig"), "--duration", "1h",
                "--out", str(kubeconfig_dir / "kubeconfig"), check=False)
    assert r.returncode == 0, r.stderr
    pod = yaml.safe_load(STATIC_POD.read_text())
    paths = {"/etc/kvip-exporter": kubeconfig_dir, "/etc/kubernetes/manifests": root / "etc/kubernetes/manifests",
             "/var/log/pods": root / "var/log/pods"}
    for volume in pod["spec"]["volumes"]:
        volume["hostPath"]["path"] = str(paths[volume["hostPath"]["path"]])
    container = pod["spec"]["containers"][0]
    container["args"] = [f"--web.listen-address=:{STATIC_PORT}" if a.startswith("--web.listen-address")
                         else a for a in container["args"]]
    container["livenessProbe"]["httpGet"]["port"] = STATIC_PORT
    # The port is a host port too: kubelet refuses a second pod wanting :9112 on a node.
    container["ports"][0]["containerPort"] = STATIC_PORT
    manifests = root / "etc/kubernetes/manifests"
    tmp = manifests / ".kvip-exporter.yaml.tmp"  # kubelet ignores dot files: never half-read
    tmp.write_text(yaml.safe_dump(pod))
    tmp.rename(manifests / "kvip-exporter.yaml")
    try:
        mirror = f"pod/kvip-exporter-k8s-{node}"
        wait_for(lambda: cluster.kubectl("-n", "kube-system", "get", mirror, "-o",
                                         "jsonpath={.status.containerStatuses[0].ready}", check=False).stdout == "true",
                 timeout=90, what=f"static pod {mirror} Ready")
        (status,) = exporter_processes(tb, node, STATIC_PORT)
        assert field(status, "Uid")[0] == "65534" and field(status, "CapEff") == ["0000000000000000"]
        body = wait_for(lambda: metrics_of(deployed, f"http://10.10.30.12:{STATIC_PORT}/metrics"), timeout=20,
                        what="static pod /metrics")
        assert 'kvip_exporter_node_info{node="k8s-cp2"} 1' in body
        if "kubevip_lease_" in body:
            holder = tb.lease_holder()
            wait_for(lambda: f'holder="{holder}"' in (metrics_of(deployed, f"http://10.10.30.12:{STATIC_PORT}/metrics") or ""),
                     timeout=20, what="lease holder through the static pod's kubeconfig")
        else:
            print("SKIP part: no lease collector in this image")
    finally:
        (manifests / "kvip-exporter.yaml").unlink(missing_ok=True)
        wait_for(lambda: not exporter_processes(tb, node, STATIC_PORT), timeout=60, what="static pod gone")
        for f in kubeconfig_dir.iterdir():
            f.unlink()
        kubeconfig_dir.rmdir()
