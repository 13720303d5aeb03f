"""deploy/kubernetes and deploy/static-pod, offline: lint, render, and the properties the
manifests promise (least privilege, scrape labels, flags the exporter really has).
The same objects go through a real API server in test_apiserver.py."""
import os
import re
import subprocess

import pytest
import yaml

from deploy_helpers import (DEPLOY, KUSTOMIZE_ROOT, LEASE, OVERLAYS, RENDER_TARGETS, REPO, STATIC_POD, docs_of,
                            find, one)
from deploy_helpers import kubectl_bin, rendered  # noqa: F401  (fixtures)

YAMLLINT_CONFIG = REPO / "tests" / "deploy" / "yamllint.yml"


def repo_yaml_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.yml", "*.yaml"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [f for f in out.split() if (REPO / f).is_file()]


def test_yamllint_every_yaml_file_of_the_repository():
    files = repo_yaml_files()
    assert len(files) > 20, files
    r = subprocess.run(["yamllint", "-f", "parsable", "-c", str(YAMLLINT_CONFIG), *files],
                       cwd=REPO, capture_output=True, text=True)
    errors = [line for line in r.stdout.splitlines() if "[error]" in line]
    assert r.returncode == 0 and not errors, "\n".join(errors) or r.stderr


def test_the_expected_overlays_exist():
    assert set(OVERLAYS) >= {"prometheus-operator", "prometheus-operator-kube-vip-scrape", "no-log-tail"}


@pytest.mark.parametrize("target", RENDER_TARGETS)
def test_renders_without_duplicates(rendered, target):
    docs = rendered[target]
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), keys
    assert ("DaemonSet", "monitoring", "kvip-exporter") in keys


def exporter_flags(exporter_bin):
    """Every long option `kvip-exporter --help` lists."""
    help_text = subprocess.run([str(exporter_bin), "--help"], capture_output=True, text=True,
                               check=True).stdout
    return set(re.findall(r"^\s+(--[a-z][a-z0-9.-]*)", help_text, re.MULTILINE))


def assert_known_flags(args, flags):
    for arg in args:
        assert arg.split("=", 1)[0] in flags, f"{arg}: kvip-exporter has no such flag"


def assert_least_privilege(pod_spec, where):
    """What deploy/kubernetes/base/daemonset.yaml promises for the pod, wherever it runs."""
    assert pod_spec["hostNetwork"] is True, where
    psc = pod_spec["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0 and psc["runAsGroup"] != 0, where
    assert psc["seccompProfile"]["type"] == "RuntimeDefault", where
    (container,) = pod_spec["containers"]
    csc = container["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False, where
    assert csc["readOnlyRootFilesystem"] is True, where
    assert csc.get("privileged", False) is False, where
    assert csc["capabilities"] == {"drop": ["ALL"]}, f"{where}: capabilities must be drop ALL, add none"
    assert "hostPID" not in pod_spec and "hostIPC" not in pod_spec, where
    # Every host directory is mounted read-only.
    host_volumes = {v["name"] for v in pod_spec.get("volumes", []) if "hostPath" in v}
    for mount in container.get("volumeMounts", []):
        if mount["name"] in host_volumes:
            assert mount.get("readOnly") is True, f"{where}: {mount['mountPath']} must be read-only"
    # Group 0 exactly when kube-vip's root:root 0640 log is tailed.
    tails_log = "--no-kubevip.log" not in container["args"]
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert ("/var/log/pods" in mounts) == tails_log, where
    assert (0 in psc.get("supplementalGroups", [])) == tails_log, where
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName", where
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
    assert container["resources"]["limits"]["memory"], where
    assert container["resources"]["requests"]["memory"], where
    return container


@pytest.mark.parametrize("target", RENDER_TARGETS)
def test_daemonset_is_least_privilege_on_control_plane_nodes(rendered, exporter_bin, target):
    ds = one(rendered[target], "DaemonSet", "kvip-exporter")
    spec = ds["spec"]["template"]["spec"]
    container = assert_least_privilege(spec, target)
    assert_known_flags(container["args"], exporter_flags(exporter_bin))
    assert spec["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
            "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["serviceAccountName"] == "kvip-exporter"
    assert container["image"].startswith("ghcr.io/rommelporras/kvip-exporter:")


@pytest.mark.parametrize("target", [t for t in RENDER_TARGETS if "prometheus-operator" in str(t)])
def test_servicemonitor_keeps_the_lease_namespace_label(rendered, target):
    monitor = one(rendered[target], "ServiceMonitor", "kvip-exporter")
    assert all(e.get("honorLabels") is True for e in monitor["spec"]["endpoints"])


KUBE_VIP_PODS = ["kube-vip-k8s-cp1", "kube-vip-k8s-cp2", "kube-vip-k8s-cp3"]


@pytest.mark.parametrize("target", RENDER_TARGETS)
def test_pod_role_reads_only_kube_vips_mirror_pods(rendered, target):
    docs = rendered[target]
    role = one(docs, "Role", "kvip-exporter-kube-vip-pod-reader")
    assert role["metadata"]["namespace"] == "kube-system"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "resourceNames": KUBE_VIP_PODS, "verbs": ["get", "list", "watch"]}]
    binding = one(docs, "RoleBinding", "kvip-exporter-kube-vip-pod-reader")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kvip-exporter", "namespace": "monitoring"}]


def test_static_pod_role_reads_the_lease_and_the_mirror_pods():
    role = next(d for d in yaml.safe_load_all((REPO / "deploy/static-pod/rbac.yaml").read_text())
                if d["kind"] == "Role")
    assert role["rules"][1] == {"apiGroups": [""], "resources": ["pods"],
                                "resourceNames": KUBE_VIP_PODS, "verbs": ["get", "list", "watch"]}


@pytest.mark.parametrize("target", RENDER_TARGETS)
def test_lease_role_is_one_named_lease_read_only(rendered, target):
    docs = rendered[target]
    role = one(docs, "Role", "kvip-exporter-lease-reader")
    assert role["metadata"]["namespace"] == LEASE[0]
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "resourceNames": [LEASE[1]], "verbs": ["get", "list", "watch"]}]
    assert not find(docs, "ClusterRole") and not find(docs, "ClusterRoleBinding")
    binding = one(docs, "RoleBinding", "kvip-exporter-lease-reader")
    assert binding["metadata"]["namespace"] == LEASE[0]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    sa = one(docs, "ServiceAccount", "kvip-exporter")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]
    ds = one(docs, "DaemonSet", "kvip-exporter")
    assert ds["metadata"]["namespace"] == sa["metadata"]["namespace"]


@pytest.mark.parametrize("target", [t for t in RENDER_TARGETS if "prometheus-operator" in t])
def test_servicemonitor_scrapes_the_headless_service_as_the_rules_expect(rendered, target):
    docs = rendered[target]
    svc = one(docs, "Service", "kvip-exporter")
    assert svc["spec"]["clusterIP"] == "None"
    (port,) = svc["spec"]["ports"]
    assert port["port"] == 9112
    ds = one(docs, "DaemonSet", "kvip-exporter")
    (container,) = ds["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()

    sm = one(docs, "ServiceMonitor", "kvip-exporter")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["namespaceSelector"]["matchNames"] == [svc["metadata"]["namespace"]]
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == port["name"] and endpoint["interval"] == "30s"
    # The rules select job="kvip-exporter" and group by node (docs/metrics.md).
    assert svc["metadata"]["labels"][sm["spec"]["jobLabel"]] == "kvip-exporter"
    assert {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node",
            "action": "replace"} in endpoint["relabelings"]
    rules = one(docs, "PrometheusRule")
    exprs = [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
    assert any('job="kvip-exporter"' in e for e in exprs), "rules no longer select this job"
    dashboard = one(docs, "ConfigMap", "kube-vip-dashboard")
    assert dashboard["metadata"]["labels"].get("grafana_dashboard") == "1"


SEED_NODES = ["10.10.30.11", "10.10.30.12", "10.10.30.13"]


def assert_scrapes_kube_vip(docs):
    """The Service without selector and the ServiceMonitor, whichever endpoints object."""
    svc = one(docs, "Service", "kube-vip")
    assert "selector" not in svc["spec"] and svc["spec"]["clusterIP"] == "None"
    sm = one(docs, "ServiceMonitor", "kube-vip")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["endpoints"][0]["interval"] == "30s"
    # node from either discovery role's meta label.
    node = next(r for r in sm["spec"]["endpoints"][0]["relabelings"] if r["targetLabel"] == "node")
    assert node["sourceLabels"] == ["__meta_kubernetes_endpoint_node_name",
                                    "__meta_kubernetes_endpointslice_endpoint_node_name"]
    assert node["separator"] == "" and node["regex"] == "(.+)"
    return svc


def test_kube_vip_scrape_component_ships_endpoints_by_default(rendered):
    """A default prometheus-operator install discovers v1 Endpoints (serviceDiscoveryRole
    Endpoints), so that is what the component ships."""
    docs = rendered["overlays/prometheus-operator-kube-vip-scrape"]
    svc = assert_scrapes_kube_vip(docs)
    eps = one(docs, "Endpoints", svc["metadata"]["name"])
    assert eps["metadata"]["namespace"] == svc["metadata"]["namespace"]
    [subset] = eps["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == SEED_NODES
    assert [a["nodeName"] for a in subset["addresses"]] == ["k8s-cp1", "k8s-cp2", "k8s-cp3"]
    assert subset["ports"] == [{"name": "metrics", "port": 2112, "protocol": "TCP"}]
    assert not find(docs, "EndpointSlice")


def test_kube_vip_scrape_endpointslice_option(kubectl_bin, tmp_path):
    """components/kube-vip-scrape-endpointslice after it: a hand-written EndpointSlice instead."""
    root = os.path.relpath(KUSTOMIZE_ROOT, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(f"""
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [{root}/base]
components: [{root}/components/kube-vip-scrape, {root}/components/kube-vip-scrape-endpointslice]
""")
    r = subprocess.run([str(kubectl_bin), "kustomize", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    docs = docs_of(r.stdout)
    svc = assert_scrapes_kube_vip(docs)
    eps = one(docs, "EndpointSlice")
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == svc["metadata"]["name"]
    assert eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] != \
        "endpointslice-controller.k8s.io"
    assert [a for e in eps["endpoints"] for a in e["addresses"]] == SEED_NODES
    assert eps["ports"] == [{"name": "metrics", "port": 2112, "protocol": "TCP"}]
    assert not find(docs, "Endpoints")


def test_static_pod_is_least_privilege_and_uses_no_api_objects(exporter_bin):
    pod = yaml.safe_load(STATIC_POD.read_text())
    assert pod["kind"] == "Pod" and pod["metadata"]["namespace"] == "kube-system"
    spec = pod["spec"]
    container = assert_least_privilege(spec, "static pod")
    assert_known_flags(container["args"], exporter_flags(exporter_bin))
    # Mirror pods may not reference API objects (NodeRestriction rejects them).
    assert "serviceAccountName" not in spec
    for volume in spec["volumes"]:
        assert set(volume) == {"name", "hostPath"}, volume
    kubeconfig = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--kubeconfig="))
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert kubeconfig.rsplit("/", 1)[0] in mounts, "mount the kubeconfig's directory, not the file"
    assert {"ip": "127.0.0.1", "hostnames": ["kubernetes"]} in spec["hostAliases"]
    # Same image and sizing as the DaemonSet.
    base = yaml.safe_load((DEPLOY / "kubernetes" / "base" / "daemonset.yaml").read_text())
    ds_container = base["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == ds_container["resources"]
    assert container["image"].startswith(ds_container["image"] + ":")


def test_arp_probe_component_adds_net_raw_and_nothing_else(kubectl_bin, exporter_bin, tmp_path):
    """base + components/arp-probe: the flag, NET_RAW added, every other capability dropped,
    and the rest of the least-privilege promise unchanged."""
    import os
    from deploy_helpers import KUSTOMIZE_ROOT, docs_of
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    # kustomize takes relative paths only.
    base = os.path.relpath(KUSTOMIZE_ROOT / "base", overlay)
    component = os.path.relpath(KUSTOMIZE_ROOT / "components" / "arp-probe", overlay)
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{base}]\ncomponents: [{component}]\n")
    r = subprocess.run([str(kubectl_bin), "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                        str(overlay)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ds = one(docs_of(r.stdout), "DaemonSet", "kvip-exporter")
    spec = ds["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert "--vip.arp-probe" in container["args"]
    assert_known_flags(container["args"], exporter_flags(exporter_bin))
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsUser"] == 0
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"


def test_systemd_arp_probe_drop_in_grants_only_net_raw():
    text = (DEPLOY / "systemd" / "kvip-exporter.service.d" / "arp-probe.conf").read_text()
    settings = dict(line.split("=", 1) for line in text.splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["CapabilityBoundingSet"] == "CAP_NET_RAW"
    assert settings["AmbientCapabilities"] == "CAP_NET_RAW"
    assert "AF_PACKET" in settings["RestrictAddressFamilies"].split()
