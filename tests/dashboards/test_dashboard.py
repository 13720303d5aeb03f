"""Checks for dashboards/kube-vip.json (rendered from mixin/): tools/check-dashboard passes on
it, catches each kind of mistake on a broken copy, the ConfigMap is generated from it, and it
has the rows the seed and issue 6 ask for.

Run: /usr/bin/python3 -m pytest tests/dashboards
"""
import copy
import json
import shutil
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboards/kube-vip.json"
CONFIGMAP = REPO / "dashboards/generated/kube-vip-dashboard.configmap.yaml"
_loader = SourceFileLoader("check_dashboard", str(REPO / "tools/check-dashboard"))
checker = module_from_spec(spec_from_loader("check_dashboard", _loader))
_loader.exec_module(checker)


@pytest.fixture
def dash():
    return json.loads(DASHBOARD.read_text())


def first(dash, kind):
    return next(p for p in checker.data_panels(dash) if p["type"] == kind)


def test_dashboard_passes_every_check(dash):
    if not shutil.which("promtool"):
        pytest.skip("SKIP: promtool not installed (run tools/setup)")
    assert checker.check(dash) == []


def test_rows_cover_the_seed_and_the_issue(dash):
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == ["VIP status", "Instance health", "Process", "Network",  # the seed's four
                    "VIP on the interfaces", "VIP healthz", "Lease and lock conflicts", "Exporter health",
                    "VIP on the wire"]


def test_configmap_is_generated_from_the_json(dash):
    cm = yaml.safe_load(CONFIGMAP.read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["kube-vip.json"]) == dash


def test_no_deprecated_panel_types_and_current_schema(dash):
    assert dash["schemaVersion"] >= 39
    assert {p["type"] for p in checker.all_panels(dash)} <= checker.PANEL_TYPES


# Each mutation breaks one rule; the checker must say so (and mention what).
def _dup_id(d):
    checker.data_panels(d)[1]["id"] = checker.data_panels(d)[0]["id"]


def _overlap(d):
    a, b = checker.data_panels(d)[:2]
    b["gridPos"] = dict(a["gridPos"], x=a["gridPos"]["x"] + 1)


def _too_wide(d):
    checker.data_panels(d)[0]["gridPos"]["w"] = 30


def _fixed_datasource(d):
    checker.data_panels(d)[0]["datasource"] = {"type": "prometheus", "uid": "PBFA97CFB590B2093"}


def _fixed_target_datasource(d):
    checker.data_panels(d)[0]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "prom"}


def _unused_variable(d):
    d["templating"]["list"].append({"type": "custom", "name": "unused", "query": "a,b"})


def _no_datasource_variable(d):
    d["templating"]["list"] = [v for v in d["templating"]["list"] if v["type"] != "datasource"]


def _fixed_rate_window(d):
    t = next(t for p in checker.data_panels(d) for t in p["targets"] if "rate(" in t["expr"])
    t["expr"] = t["expr"].replace("$__rate_interval", "5m")


def _no_unit(d):
    del checker.data_panels(d)[0]["fieldConfig"]["defaults"]["unit"]


def _unknown_metric(d):
    checker.data_panels(d)[0]["targets"][0]["expr"] = 'kube_lease_owner{job=~"$job"}'


def _bad_promql(d):
    checker.data_panels(d)[0]["targets"][0]["expr"] = 'sum(kubevip_up{job=~"$job"}'


def _graph_panel(d):
    checker.data_panels(d)[0]["type"] = "graph"


MUTATIONS = {
    "duplicate id": (_dup_id, "used by"),
    "overlapping panels": (_overlap, "overlap"),
    "panel wider than the grid": (_too_wide, "24-column"),
    "hard-coded panel datasource": (_fixed_datasource, "datasource"),
    "hard-coded target datasource": (_fixed_target_datasource, "datasource"),
    "unused variable": (_unused_variable, "never used"),
    "no datasource variable": (_no_datasource_variable, "type datasource"),
    "rate over a fixed window": (_fixed_rate_window, "$__rate_interval"),
    "panel without unit": (_no_unit, "unit"),
    "metric outside the contract": (_unknown_metric, "docs/metrics.md"),
    "PromQL that does not parse": (_bad_promql, "promtool"),
    "deprecated panel type": (_graph_panel, "not allowed"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_checker_catches(name, dash):
    if name == "PromQL that does not parse" and not shutil.which("promtool"):
        pytest.skip("SKIP: promtool not installed (run tools/setup)")
    mutate, expected = MUTATIONS[name]
    broken = copy.deepcopy(dash)
    mutate(broken)
    problems = checker.check(broken)
    assert any(expected in p for p in problems), problems


def test_every_panel_gets_data_from_a_real_prometheus(tmp_path):
    """Offline stand-in for the testbed check: a real Prometheus over the synthetic
    scenario's TSDB blocks answers every panel query (variables filled in) with data."""
    for tool in ("promtool", "prometheus"):
        if not shutil.which(tool):
            pytest.skip(f"SKIP: {tool} not installed (run tools/setup)")
    pytest.importorskip("matplotlib", reason="SKIP: python3-matplotlib not installed (run tools/setup)")
    res = subprocess.run([sys.executable, REPO / "tools/dashboard-preview", "--synthetic", "--require-data",
                          "--out", tmp_path / "preview.png"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "preview.png").stat().st_size > 50_000
