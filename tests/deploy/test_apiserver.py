"""deploy/ against the testbed's real kube-apiserver v1.35 (tools/testbed):

- every rendered overlay and the static pod pass `kubectl apply --dry-run=server` with the
  prometheus-operator CRDs (from the operator's Go module) installed, strict field
  validation on (a negative control proves it);
- the RBAC: a TokenRequest token of the exporter's ServiceAccount can read, list and watch
  kube-system/plndr-cp-lock and nothing else (`auth can-i --list` against a ServiceAccount
  with no bindings at all), the static pod's kubeconfig likewise;
- kube-vip's CRI log is readable by uid 65534 with group 0 and not without it;
- the exporter binary itself runs with nothing but that token (skipped, with the reason
  printed, while the exporter has no lease collector).
Every kubectl runs inside a testbed node's network namespace.
"""
import base64
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy_cluster import NOBODY, cluster, testbed  # noqa: F401  (fixtures)
from deploy_helpers import kubectl_bin  # noqa: F401  (fixture)
from deploy_helpers import LEASE, RENDER_TARGETS, REPO, STATIC_POD, docs_of, render
from testbed_fixture import TOOL, wait_for

ENDPOINTS_DEPRECATED = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def dry_run(cluster, path):
    r = cluster.kubectl("apply", "--dry-run=server", "-f", str(path), check=False)
    assert r.returncode == 0, f"API server rejected {path.name}:\n{r.stderr}"
    return r


@pytest.mark.parametrize("target", RENDER_TARGETS)
def test_rendered_overlay_is_accepted_by_the_api_server(cluster, kubectl_bin, target):
    text = render(kubectl_bin, target)
    path = cluster.write(target.replace("/", "-") + ".yaml", text, mode=0o644)
    r = dry_run(cluster, path)
    accepted = [line for line in r.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(docs_of(text)), r.stdout
    # The seed's :2112 scrape ships v1 Endpoints by default (what a default prometheus-operator
    # discovers); the API server warns about exactly that, and nothing else may warn.
    warnings = [line for line in r.stderr.splitlines() if line.startswith("Warning")]
    expected = [ENDPOINTS_DEPRECATED] if "kube-vip-scrape" in target else []
    assert warnings == expected, r.stderr


def test_strict_validation_is_on_negative_control(cluster):
    """A misspelt ServiceMonitor field is refused: the CRD schemas really are checked."""
    bad = cluster.write("bad-servicemonitor.yaml", """
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: misspelt, namespace: monitoring}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: kvip-exporter}}
  endpoints: [{port: metrics, intervall: 30s}]
""", mode=0o644)
    r = cluster.kubectl("apply", "--dry-run=server", "-f", str(bad), check=False)
    assert r.returncode != 0 and "unknown field" in r.stderr, r.stderr


def test_kube_vip_scrape_endpoints_and_endpointslice_option_are_accepted(cluster, kubectl_bin, tmp_path):
    """The kube-vip scrape component ships v1 Endpoints (what a default prometheus-operator
    install discovers): accepted with the API server's deprecation warning. Its EndpointSlice
    option replaces them and applies without it."""
    variants = {"endpoints": ["kube-vip-scrape"],
                "endpointslice": ["kube-vip-scrape", "kube-vip-scrape-endpointslice"]}
    for name, components in variants.items():
        overlay = tmp_path / name
        overlay.mkdir()
        root = os.path.relpath(REPO / "deploy" / "kubernetes", overlay)
        (overlay / "kustomization.yaml").write_text(f"""
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [{root}/base]
components: [{", ".join(f"{root}/components/{c}" for c in components)}]
""")
        r = subprocess.run([str(kubectl_bin), "kustomize", str(overlay)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        kinds = [d["kind"] for d in docs_of(r.stdout)]
        result = dry_run(cluster, cluster.write(f"kube-vip-scrape-{name}.yaml", r.stdout, mode=0o644))
        if name == "endpoints":
            assert "Endpoints" in kinds and "EndpointSlice" not in kinds, kinds
            assert "v1 Endpoints is deprecated" in result.stderr, result.stderr
        else:
            assert "EndpointSlice" in kinds and "Endpoints" not in kinds, kinds
            assert "deprecated" not in result.stderr, result.stderr


def test_static_pod_is_accepted_by_the_api_server(cluster):
    r = dry_run(cluster, STATIC_POD)
    assert "pod/kvip-exporter created (server dry run)" in r.stdout


# --- RBAC ---------------------------------------------------------------------------------

def can_i_list(cluster, kubeconfig, namespace):
    r = cluster.as_user(kubeconfig, "auth", "can-i", "--list", "-n", namespace)
    assert r.returncode == 0, r.stderr
    return {" ".join(line.split()) for line in r.stdout.splitlines()[1:] if line.strip()}


@pytest.fixture(scope="module")
def lease_reader(cluster, kubectl_bin):
    """The base's ServiceAccount, Role and RoleBinding applied for real; kubeconfigs with a
    TokenRequest token for it and for a ServiceAccount bound to nothing (the baseline
    every authenticated identity gets)."""
    objects = [d for d in docs_of(render(kubectl_bin, "base"))
               if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    path = cluster.write("lease-rbac.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
                         mode=0o644)
    for d in objects:
        what = f"{d['kind'].lower()}/{d['metadata']['name']}"
        if not cluster.exists(what, d["metadata"]["namespace"]):
            cluster.created.append((what, d["metadata"]["namespace"]))
    cluster.kubectl("apply", "-f", str(path))
    cluster.ensure("serviceaccount/kvip-baseline", "monitoring",
                   "-n", "monitoring", "create", "serviceaccount", "kvip-baseline")
    exporter = cluster.kubeconfig("kvip-exporter", {"token": cluster.token("monitoring", "kvip-exporter")})
    baseline = cluster.kubeconfig("kvip-baseline", {"token": cluster.token("monitoring", "kvip-baseline")})
    return exporter, baseline


LEASE_RULE = f"leases.coordination.k8s.io [] [{LEASE[1]}] [get list watch]"
# `auth can-i --list` prints one row per name of the mirror pods' rule.
POD_RULES = {f"pods [] [kube-vip-k8s-cp{n}] [get list watch]" for n in (1, 2, 3)}


def assert_exactly_the_lease(cluster, kubeconfig, baseline):
    for namespace in ("kube-system", "monitoring", "default", "kube-node-lease"):
        mine, base = can_i_list(cluster, kubeconfig, namespace), can_i_list(cluster, baseline, namespace)
        expected = {LEASE_RULE, *POD_RULES} if namespace == LEASE[0] else set()
        # (A client-certificate user has fewer rights than the baseline ServiceAccount:
        # no service-account issuer discovery. Fewer is fine; only extra rights count.)
        assert mine - base == expected, f"{namespace}: extra rights {mine - base}"


def assert_reads_only_the_lease(cluster, kubeconfig):
    ns, name = LEASE
    ok = [("get", "lease", name), ("get", "leases", "--field-selector", f"metadata.name={name}")]
    for args in ok:
        r = cluster.as_user(kubeconfig, "-n", ns, *args, "-o", "name")
        assert r.returncode == 0 and r.stdout.strip() == f"lease.coordination.k8s.io/{name}", (args, r.stderr)
    # A watch, as the exporter makes it: one ADDED event for the named lease.
    r = cluster.as_user(kubeconfig, "get", "--raw", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
                        f"?fieldSelector=metadata.name%3D{name}&watch=1&timeoutSeconds=1")
    events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert r.returncode == 0 and events and events[0]["type"] == "ADDED", (r.stdout, r.stderr)
    assert {e["object"]["metadata"]["name"] for e in events} == {name}
    forbidden = [("-n", ns, "get", "leases"),                       # list without the name
                 ("-n", ns, "get", "lease", "kube-apiserver-other"),  # another lease
                 ("-n", "kube-node-lease", "get", "leases"),
                 ("-n", ns, "get", "secrets"),
                 ("-n", ns, "get", "pods"),
                 ("get", "nodes")]
    for args in forbidden:
        r = cluster.as_user(kubeconfig, *args)
        assert r.returncode != 0 and "Forbidden" in r.stderr, (args, r.stdout, r.stderr)
    # And no writes to the lease itself.
    r = cluster.as_user(kubeconfig, "-n", ns, "annotate", "lease", name, "kvip-test=1")
    assert r.returncode != 0 and "Forbidden" in r.stderr, r.stderr


def test_serviceaccount_token_can_exactly_read_the_lease(cluster, lease_reader):
    exporter, baseline = lease_reader
    who = cluster.as_user(exporter, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert who.stdout == "system:serviceaccount:monitoring:kvip-exporter", who.stderr
    assert_exactly_the_lease(cluster, exporter, baseline)


def test_serviceaccount_token_reads_and_watches_the_lease_and_nothing_else(cluster, lease_reader):
    assert_reads_only_the_lease(cluster, lease_reader[0])


@pytest.fixture(scope="module")
def static_pod_rbac(cluster):

    for d in yaml.safe_load_all((REPO / "deploy/static-pod/rbac.yaml").read_text()):
        what = f"{d['kind'].lower()}/{d['metadata']['name']}"
        if not cluster.exists(what, d["metadata"]["namespace"]):
            cluster.created.append((what, d["metadata"]["namespace"]))
    cluster.kubectl("apply", "-f", str(REPO / "deploy/static-pod/rbac.yaml"))


def test_static_pod_kubeconfig_from_make_kubeconfig(cluster, lease_reader, static_pod_rbac):
    out = cluster.workdir / "static-pod.kubeconfig"
    r = cluster.tb.exec("cp1", str(REPO / "deploy/static-pod/make-kubeconfig"), "--method", "token",
                        "--duration", "1h", "--server", f"https://{cluster.env['NODE_IP']}:6443",
                        "--out", str(out), check=False)
    assert r.returncode == 0, r.stderr
    st = out.stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o440, 0, NOBODY)
    who = cluster.as_user(out, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert who.stdout == "system:serviceaccount:kube-system:kvip-exporter", who.stderr
    assert_exactly_the_lease(cluster, out, lease_reader[1])
    assert_reads_only_the_lease(cluster, out)


def test_static_pod_user_subject_with_a_client_certificate(cluster, lease_reader, static_pod_rbac):
    """The `--method cert` identity (user kvip-exporter). The testbed has no
    kube-controller-manager to sign a CertificateSigningRequest, so the certificate is
    signed here with the cluster CA, as that signer would."""
    pki = Path(cluster.env["KVIP_NODE_ROOT"]) / "etc/kubernetes/pki"
    key, csr, crt = (cluster.workdir / n for n in ("user.key", "user.csr", "user.crt"))
    ext = cluster.write("user.ext", "extendedKeyUsage=clientAuth\n")
    for cmd in (["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                ["openssl", "req", "-new", "-key", key, "-subj", "/CN=kvip-exporter", "-out", csr],
                ["openssl", "x509", "-req", "-in", csr, "-CA", pki / "ca.crt", "-CAkey", pki / "ca.key",
                 "-CAcreateserial", "-CAserial", cluster.workdir / "ca.srl", "-days", "1",
                 "-extfile", ext, "-out", crt]):
        subprocess.run([str(c) for c in cmd], check=True, capture_output=True)

    config = cluster.kubeconfig("kvip-exporter-cert", {
        "client-certificate-data": base64.b64encode(crt.read_bytes()).decode(),
        "client-key-data": base64.b64encode(key.read_bytes()).decode()})
    who = cluster.as_user(config, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert who.stdout == "kvip-exporter", who.stderr
    assert_exactly_the_lease(cluster, config, lease_reader[1])
    assert_reads_only_the_lease(cluster, config)


# --- host files ---------------------------------------------------------------------------

def setpriv(*groups):
    """argv prefix: uid/gid 65534, the given supplementary groups, no capabilities at all."""
    group_args = ["--groups", ",".join(map(str, groups))] if groups else ["--clear-groups"]
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", *group_args,
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


def test_kube_vip_log_is_readable_with_group_0_only(cluster):
    logs = sorted(Path(cluster.env["KVIP_POD_LOG_DIR"]).glob("kube-system_kube-vip-*/kube-vip/*.log"))
    assert logs, "no kube-vip CRI log on cp1"
    st = logs[-1].stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, 0, 0), oct(st.st_mode)
    with_group_0 = subprocess.run([*setpriv(0), "head", "-c", "1", str(logs[-1])], capture_output=True)
    assert with_group_0.returncode == 0 and len(with_group_0.stdout) == 1, with_group_0.stderr
    without = subprocess.run([*setpriv(), "head", "-c", "1", str(logs[-1])], capture_output=True, text=True)
    assert without.returncode != 0 and "Permission denied" in without.stderr


# --- the exporter with nothing but the token ----------------------------------------------

def test_exporter_watches_the_lease_with_only_the_serviceaccount_token(cluster, lease_reader, exporter_bin):
    log = cluster.workdir / "exporter.log"
    env = cluster.env
    argv = [str(TOOL), "exec", "cp1", "--", *setpriv(0), str(exporter_bin),
            "--web.listen-address=127.0.0.1:0", f"--kubeconfig={lease_reader[0]}",
            "--node-name=k8s-cp1", f"--kubevip.manifest={env['KUBEVIP_MANIFEST']}",
            f"--kubevip.log-path={env['KVIP_POD_LOG_DIR']}/kube-system_kube-vip-*/kube-vip/*.log",
            "--no-vip.healthz", "--no-apiserver.livez", "--no-kubevip.pod"]
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=cluster.tb.environ)
    try:
        port = wait_for(lambda: re.search(r"ports=(\d+)", log.read_text()), timeout=20,
                        what="the exporter to listen").group(1)

        def metrics():
            r = cluster.run_in_node("curl", "-s", "--max-time", "2", f"http://127.0.0.1:{port}/metrics")
            return r.stdout if r.returncode == 0 and "kvip_exporter_build_info" in r.stdout else None

        wait_for(metrics, timeout=10, what="/metrics")
        holder = cluster.tb.lease_holder()
        want = [f'kubevip_lease_present{{lease="{LEASE[1]}",namespace="{LEASE[0]}"}} 1',
                f'kubevip_lease_watch_up{{lease="{LEASE[1]}",namespace="{LEASE[0]}"}} 1',
                f'holder="{holder}"']
        wait_for(lambda: all(w in (metrics() or "") for w in want), timeout=20,
                 what=f"lease series {want}")
        text = log.read_text()
        # A denial is logged with its HTTP status; "403" alone also matches a port number.
        assert not re.search(r"(?<!\d)403(?!\d)|orbidden", text), text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
