"""The monitoring mixin (mixin/) rendered for many clusters: `clusterLabel: 'cluster'`.

The default render (no cluster label) is what rules/ and dashboards/ hold, and every other test
in tests/rules and tests/dashboards checks it. Here the mixin is rendered with the cluster label
into a temporary directory by the same tools/render-monitoring, and:
- promtool lints the rules and runs tests/rules/multicluster.test.yml on them (two clusters with
  the same VIP, node names and exporter addresses);
- every aggregation and join in the rules names the cluster;
- the dashboard has a cluster variable and every query selects on it.

Run: /usr/bin/python3 -m pytest tests/rules/test_mixin.py   (tests/rules/run runs it too)
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_rules import check_dashboard, need, promtool, rule_list, write_rules_without_annotations

REPO = Path(__file__).resolve().parents[2]
MULTICLUSTER_TESTS = REPO / "tests/rules/multicluster.test.yml"
MULTICLUSTER_ANNOTATION_TESTS = REPO / "tests/rules/multicluster.annotations.test.yml"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    if not shutil.which("jsonnet"):
        pytest.skip("SKIP: jsonnet not installed (run tools/setup)")
    out = tmp_path_factory.mktemp("mixin-cluster")
    res = subprocess.run([sys.executable, REPO / "tools/render-monitoring", "--mixin-config",
                          "{clusterLabel: 'cluster'}", "--out", out], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


def rules_doc(rendered):
    return yaml.safe_load((rendered / "rules/kube-vip.rules.yml").read_text())


def test_promtool_check_rules_lint_fatal(rendered):
    need("promtool")
    res = promtool("check", "rules", "--lint-fatal", rendered / "rules/kube-vip.rules.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_two_clusters_stay_apart(rendered, tmp_path):
    need("promtool")
    test_file = write_rules_without_annotations(rules_doc(rendered), tmp_path)
    shutil.copy(MULTICLUSTER_TESTS, test_file)
    res = promtool("test", "rules", test_file)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_single_cluster_render_fails_the_same_cases(tmp_path):
    """The cases discriminate: the default render, which aggregates over everything, mixes the
    two clusters and fails them."""
    need("promtool")
    test_file = write_rules_without_annotations(
        yaml.safe_load((REPO / "rules/kube-vip.rules.yml").read_text()), tmp_path)
    shutil.copy(MULTICLUSTER_TESTS, test_file)
    res = promtool("test", "rules", test_file)
    assert res.returncode != 0
    for case in ("same VIP, one holder each", "exporters all down pages for that cluster"):
        assert case in res.stdout + res.stderr, f"single-cluster rules pass {case!r}"


def test_annotation_queries_read_the_alerts_cluster(rendered, tmp_path):
    need("promtool")
    shutil.copy(rendered / "rules/kube-vip.rules.yml", tmp_path / "kube-vip.rules.yml")
    shutil.copy(MULTICLUSTER_ANNOTATION_TESTS, tmp_path / "annotations.test.yml")
    res = promtool("test", "rules", tmp_path / "annotations.test.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_aggregation_and_join_names_the_cluster(rendered):
    for rule in rule_list(rules_doc(rendered)):
        expr = rule["expr"]
        for kind, labels in re.findall(r"\b(by|on)\s*\(([^)]*)\)", expr):
            assert "cluster" in labels.split(", "), f"{rule['alert']}: {kind} ({labels}) without cluster"
        # An aggregation without by (...) would sum over every cluster; absent() cannot name one.
        bare = re.findall(r"\b(sum|count|min|max|avg|group)\s*\((?!\s*absent\()", expr)
        assert not bare, f"{rule['alert']}: {bare} aggregates across clusters"
        for text in rule["annotations"].values():
            assert 'query "' not in text, f"{rule['alert']}: annotation query not scoped to the cluster"


def test_single_cluster_render_has_no_cluster_label():
    """The default render (rules/, dashboards/) stays as simple as a single cluster wants."""
    for rule in rule_list(yaml.safe_load((REPO / "rules/kube-vip.rules.yml").read_text())):
        assert "cluster" not in rule["expr"], rule["alert"]
        assert "query (printf" not in str(rule["annotations"]), rule["alert"]
    dash = json.loads((REPO / "dashboards/kube-vip.json").read_text())
    assert "cluster" not in [v["name"] for v in dash["templating"]["list"]]
    assert "$cluster" not in json.dumps(dash)


def test_dashboard_selects_every_query_on_the_cluster(rendered):
    dash = json.loads((rendered / "dashboards/kube-vip.json").read_text())
    variables = dash["templating"]["list"]
    assert [v["name"] for v in variables][:2] == ["datasource", "cluster"]
    for v in variables:
        if v["type"] == "query" and v["name"] != "cluster":
            assert 'cluster="$cluster"' in v["query"]["query"], v["name"]
    targets = [t for p in check_dashboard.data_panels(dash) for t in p.get("targets", [])]
    assert targets
    for t in targets:
        for sel in re.findall(r"\b[a-z_:]+\{([^}]*)\}", t["expr"]):
            assert 'cluster="$cluster"' in sel, t["expr"]
    if shutil.which("promtool"):
        assert check_dashboard.check(dash) == []
    cm = yaml.safe_load((rendered / "dashboards/generated/kube-vip-dashboard.configmap.yaml").read_text())
    assert json.loads(cm["data"]["kube-vip.json"]) == dash
