"""The `cluster` fixture: the testbed (tools/testbed) seen from cp1 with the
prometheus-operator CRDs, namespace `monitoring` and kube-system/default in place, and
whatever the tests create removed at the end of the session (but the namespace)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from testbed_fixture import testbed  # noqa: F401  (the fixture `cluster` uses)

OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
OPERATOR_VERSION = "v0.85.0"  # the newest the module proxy serves here
OPERATOR_CRDS = ("servicemonitors", "prometheusrules", "alertmanagerconfigs")
NOBODY = 65534


def operator_crd_files():
    """The CRD YAML shipped in the operator's module source (go mod download)."""
    if not shutil.which("go"):
        pytest.skip("SKIP: no go toolchain to fetch the prometheus-operator module")
    with tempfile.TemporaryDirectory() as scratch:
        r = subprocess.run(["go", "mod", "download", "-json", f"{OPERATOR_MODULE}@{OPERATOR_VERSION}"],
                           cwd=scratch, capture_output=True, text=True, env=dict(os.environ, GOFLAGS="-mod=mod"))
    assert r.returncode == 0, f"go mod download {OPERATOR_MODULE}@{OPERATOR_VERSION}: {r.stderr}{r.stdout}"
    crd_dir = Path(json.loads(r.stdout)["Dir"]) / "example" / "prometheus-operator-crd"
    files = [crd_dir / f"monitoring.coreos.com_{name}.yaml" for name in OPERATOR_CRDS]
    for f in files:
        assert f.is_file(), f"{f} missing from the module"
    return files


class Cluster:
    """The testbed seen from cp1, plus what this module created (removed at the end)."""

    def __init__(self, tb, workdir):
        self.tb = tb
        self.env = tb.env("cp1")
        self.workdir = workdir
        self.created = []  # (kind/name, namespace or None), deleted in reverse

    def run_in_node(self, *argv, kubeconfig=None):
        """argv inside cp1's network namespace (nsenter directly: `tools/testbed exec`
        costs seconds a call on a busy machine, and these tests make a hundred)."""
        env = dict(os.environ, KUBECONFIG=str(kubeconfig or self.env["KUBECONFIG"]))
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.env['NETNS']}", *map(str, argv)],
                              capture_output=True, text=True, env=env, timeout=180)

    def kubectl(self, *args, check=True):
        r = self.run_in_node(self.env["KUBECTL"], *args)
        if check:
            assert r.returncode == 0, f"kubectl {' '.join(args)}:\n{r.stderr}"
        return r

    def exists(self, what, namespace=None):
        ns = ["-n", namespace] if namespace else []
        return self.kubectl(*ns, "get", what, "-o", "name", check=False).returncode == 0

    def ensure(self, what, namespace, *create_args):
        if not self.exists(what, namespace):
            self.kubectl(*create_args)
            self.created.append((what, namespace))

    def apply(self, docs):
        """kubectl apply of these objects; those that did not exist are removed at the end."""
        for d in docs:
            what = f"{d['kind'].lower()}/{d['metadata']['name']}"
            if not self.exists(what, d["metadata"].get("namespace")):
                self.created.append((what, d["metadata"].get("namespace")))
        path = self.write("apply.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}), mode=0o644)
        self.kubectl("apply", "-f", str(path))

    def write(self, name, text, mode=0o600):
        path = self.workdir / name
        path.write_text(text)
        os.chmod(path, mode)
        return path

    def kubeconfig(self, name, user_fields):
        """A kubeconfig for cp1's API server with the given `user:` fields (dict)."""
        ca = Path(self.env["KVIP_NODE_ROOT"]) / "etc/kubernetes/pki/ca.crt"
        config = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "testbed", "cluster": {
                "server": f"https://{self.env['NODE_IP']}:6443",
                "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode()}}],
            "users": [{"name": name, "user": user_fields}],
            "contexts": [{"name": name, "context": {"cluster": "testbed", "user": name}}],
            "current-context": name,
        }
        path = self.write(f"{name}.kubeconfig", json.dumps(config), mode=0o440)
        os.chown(path, 0, NOBODY)  # readable by the exporter run as nobody
        return path

    def as_user(self, kubeconfig, *args):
        return self.run_in_node(self.env["KUBECTL"], *args, kubeconfig=kubeconfig)

    def token(self, namespace, serviceaccount):
        """A TokenRequest token (kubectl create token) valid for 10 minutes."""
        return self.kubectl("-n", namespace, "create", "token", serviceaccount,
                            "--duration=10m").stdout.strip()


@pytest.fixture(scope="session")
def cluster(testbed):
    workdir = Path(tempfile.mkdtemp(prefix="kvip-deploy-"))
    os.chmod(workdir, 0o755)  # the exporter, run as nobody, reads its kubeconfig here
    c = Cluster(testbed, workdir)
    try:  # a setup that fails half-way still removes what it made
        setup(c)
        yield c
    finally:
        for what, namespace in reversed(c.created):
            ns = ["-n", namespace] if namespace else []
            c.kubectl(*ns, "delete", what, "--ignore-not-found", "--timeout=60s", check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def setup(c):
    for name, crd_file in zip(OPERATOR_CRDS, operator_crd_files()):
        crd = f"crd/{name}.monitoring.coreos.com"
        # One still being deleted (a previous run's teardown) must be gone before re-creating.
        if c.kubectl("get", crd, "-o", "jsonpath={.metadata.deletionTimestamp}", check=False).stdout:
            c.kubectl("wait", "--for=delete", "--timeout=60s", crd, check=False)
        if not c.exists(crd):
            c.kubectl("apply", "--server-side", "-f", str(crd_file))
            c.created.append((crd, None))
    c.kubectl("wait", "--for", "condition=Established", "--timeout=60s",
              *[f"crd/{n}.monitoring.coreos.com" for n in OPERATOR_CRDS])
    # Kept afterwards: the testbed has no namespace controller, so a deleted namespace
    # would stay Terminating for good. Its objects are removed one by one instead.
    if not c.exists("namespace/monitoring"):
        c.kubectl("create", "namespace", "monitoring")
    # The testbed runs no controller-manager, so kube-system has no `default`
    # ServiceAccount, which admission wants for any Pod created through the API.
    c.ensure("serviceaccount/default", "kube-system", "-n", "kube-system", "create", "serviceaccount", "default")
