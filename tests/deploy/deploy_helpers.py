"""Helpers for the deploy/ checks: kustomize rendering, the tools they need, YAML parsing.

Not a conftest.py: other tests' `from conftest import ...` would then pick this one. Test
modules import the fixtures they use from here and from deploy_cluster.py."""
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent.parent
DEPLOY = REPO / "deploy"
KUSTOMIZE_ROOT = DEPLOY / "kubernetes"
OVERLAYS = sorted(p.parent.name for p in (KUSTOMIZE_ROOT / "overlays").glob("*/kustomization.yaml"))
# base is rendered too: it is what an overlay of a user's own starts from.
RENDER_TARGETS = ["base"] + [f"overlays/{name}" for name in OVERLAYS]
STATIC_POD = DEPLOY / "static-pod" / "kvip-exporter.yaml"
LEASE = ("kube-system", "plndr-cp-lock")


def kubectl_path():
    """The testbed's kubectl (kustomize is built into it); builds the peers if missing."""
    path = Path(subprocess.run([str(REPO / "tools" / "peers"), "path", "kubectl"],
                               capture_output=True, text=True, check=True).stdout.strip())
    if not path.is_file():
        built = subprocess.run([str(REPO / "tools" / "peers"), "build"], capture_output=True, text=True)
        if built.returncode != 0 or not path.is_file():
            reason = f"SKIP: kubectl cannot be built: {built.stderr.strip()[-500:]}"
            print(reason)
            pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def kubectl_bin():
    return kubectl_path()


def render(kubectl, target):
    """`kubectl kustomize` of deploy/kubernetes/<target>; returns the YAML text.

    LoadRestrictionsNone: the prometheus-operator component includes the rendered rules
    and dashboard from rules/generated and dashboards/generated, outside its root.
    """
    r = subprocess.run([str(kubectl), "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                        str(KUSTOMIZE_ROOT / target)], capture_output=True, text=True)
    assert r.returncode == 0, f"kubectl kustomize {target} failed:\n{r.stderr}"
    return r.stdout


class _Loader(yaml.SafeLoader):
    """SafeLoader reading a bare `=` as the string it is in YAML 1.2 (kustomize writes
    AlertmanagerConfig's `matchType: =` unquoted; PyYAML's 1.1 rules call it a "value" tag)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def docs_of(text):
    return [d for d in yaml.load_all(text, Loader=_Loader) if d]


def find(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return found


def one(docs, kind, name=None):
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def rendered(kubectl_bin):
    """{target: [objects]} for base and every overlay."""
    return {target: docs_of(render(kubectl_bin, target)) for target in RENDER_TARGETS}
