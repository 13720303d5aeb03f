"""Checks for the kube-vip alert rules (rules/): rendered files current, promtool clean,
every alert unit-tested at its threshold, tests that catch a changed threshold, and
only metrics from docs/metrics.md.

Run: /usr/bin/python3 -m pytest tests/rules   (or tests/rules/run for everything)
"""
import copy
import re
import shutil
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules/kube-vip.rules.yml"
PROM_RULE = REPO / "rules/generated/prometheusrule.yaml"
ALERT_TESTS = REPO / "tests/rules/alerts.test.yml"
ANNOTATION_TESTS = REPO / "tests/rules/annotations.test.yml"
# The dashboard checker owns the PromQL name extraction and the metric contract parser.
_loader = SourceFileLoader("check_dashboard", str(REPO / "tools/check-dashboard"))
check_dashboard = module_from_spec(spec_from_loader("check_dashboard", _loader))
_loader.exec_module(check_dashboard)


def need(tool):
    if not shutil.which(tool):
        pytest.skip(f"SKIP: {tool} not installed (run tools/setup)")


def rule_list(doc):
    return [r for g in doc["groups"] for r in g["rules"]]


def alerts():
    return rule_list(yaml.safe_load(RULES.read_text()))


def write_rules_without_annotations(doc, directory, only_alert=None):
    """alerts.test.yml checks labels and timing only; annotations.test.yml checks the texts.

    only_alert keeps just the checks of that alert, which is all a mutant needs (and
    keeps the 40-odd mutant runs cheap on a busy machine).
    """
    doc = copy.deepcopy(doc)
    for rule in rule_list(doc):
        rule.pop("annotations", None)
    (directory / "kube-vip.rules.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    if only_alert:
        kept = []
        for case in tests["tests"]:
            checks = [c for c in case.get("alert_rule_test", []) if c["alertname"] == only_alert]
            if checks:
                kept.append({**case, "alert_rule_test": checks})
        tests["tests"] = kept
    (directory / "alerts.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    return directory / "alerts.test.yml"


def promtool(*args):
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True)


def test_rendered_files_are_up_to_date():
    res = subprocess.run([sys.executable, REPO / "tools/render-monitoring", "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_prometheusrule_carries_the_same_groups():
    crd = yaml.safe_load(PROM_RULE.read_text())
    assert crd["apiVersion"] == "monitoring.coreos.com/v1" and crd["kind"] == "PrometheusRule"
    assert crd["metadata"]["namespace"] == "monitoring"
    assert crd["metadata"]["labels"]["release"] == "prometheus"
    assert crd["spec"] == yaml.safe_load(RULES.read_text())


@pytest.mark.parametrize("source", ["plain", "prometheusrule"])
def test_promtool_check_rules_lint_fatal(source, tmp_path):
    need("promtool")
    path = RULES
    if source == "prometheusrule":
        path = tmp_path / "from-crd.yml"
        path.write_text(yaml.safe_dump(yaml.safe_load(PROM_RULE.read_text())["spec"]))
    res = promtool("check", "rules", "--lint-fatal", path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_unit_tests(tmp_path):
    need("promtool")
    test_file = write_rules_without_annotations(yaml.safe_load(RULES.read_text()), tmp_path)
    res = promtool("test", "rules", test_file)
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_annotation_tests():
    need("promtool")
    res = promtool("test", "rules", ANNOTATION_TESTS)
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_alert_has_a_firing_and_a_silent_case():
    cases = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    fires, silent = set(), set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {r["alert"] for r in alerts()}
    assert names - fires == set(), "alerts never shown to fire"
    assert names - silent == set(), "alerts never shown to stay silent"


def top_level_or_arms(expr):
    """The operands of `or` at parenthesis depth 0, or [expr] when there is none."""
    arms, depth, start = [], 0, 0
    for m in re.finditer(r"[()]|\bor\b", expr):
        if m.group() == "(":
            depth += 1
        elif m.group() == ")":
            depth -= 1
        elif depth == 0:
            arms.append(expr[start:m.start()].strip())
            start = m.end()
    return arms + [expr[start:].strip()]


def _mutants():
    """(alert, what, mutated rules doc): the for: dropped; the threshold at the end of the
    expression, and at the end of each top-level `or` arm, moved by +-1; each `or` arm dropped
    (an alert with two ways to fire, e.g. "all targets down" or "none discovered", must have
    both pinned by a test)."""
    base = yaml.safe_load(RULES.read_text())
    for i, rule in enumerate(rule_list(base)):
        def mutant(expr):
            doc = copy.deepcopy(base)
            rule_list(doc)[i]["expr"] = expr
            return doc

        if "for" in rule:
            doc = copy.deepcopy(base)
            rule_list(doc)[i]["for"] = "0s"
            yield rule["alert"], "for: 0s", doc
        arms = top_level_or_arms(rule["expr"])
        for a, arm in enumerate(arms):
            m = list(re.finditer(r"(>=|==|>|<)\s*(\d+)\s*$", arm))
            for delta in (+1, -1):
                if m:
                    last = m[-1]
                    moved = arm[:last.start(2)] + str(int(last.group(2)) + delta) + arm[last.end(2):]
                    where = f" in or-arm {a + 1}" if len(arms) > 1 else ""
                    yield rule["alert"], f"threshold {delta:+d}{where}", mutant(
                        " or ".join(arms[:a] + [moved] + arms[a + 1:]))
            if len(arms) > 1:
                yield rule["alert"], f"or-arm {a + 1} dropped", mutant(" or ".join(arms[:a] + arms[a + 1:]))


def test_mutants_cover_both_arms_of_an_or():
    names = {(alert, what) for alert, what, _ in _mutants()}
    assert ("KubeVipExportersAllDown", "or-arm 1 dropped") in names
    assert ("KubeVipExportersAllDown", "or-arm 2 dropped") in names
    assert ("KubeVipExportersAllDown", "threshold +1 in or-arm 1") in names
    assert top_level_or_arms("a or (b or c) or d") == ["a", "(b or c)", "d"]


@pytest.mark.parametrize("alert,what,doc", list(_mutants()), ids=lambda v: v if isinstance(v, str) else "")
def test_unit_tests_catch_a_changed_threshold(alert, what, doc, tmp_path):
    """Proves the unit tests pin each alert's threshold and duration, not just 'it fires'."""
    need("promtool")
    res = promtool("test", "rules", write_rules_without_annotations(doc, tmp_path, only_alert=alert))
    assert res.returncode != 0, f"{alert} with {what} still passes every unit test"


def test_every_alert_links_its_runbook_heading():
    runbook = (REPO / "docs/runbook.md").read_text()
    for rule in alerts():
        url = rule["annotations"]["runbook_url"]
        assert url.endswith("docs/runbook.md#" + rule["alert"].lower())
        assert re.search(rf"^### {rule['alert']}$", runbook, re.M), rule["alert"]


def test_rules_use_only_contract_metrics():
    contract = check_dashboard.contract_metrics(REPO / "docs/metrics.md")
    used = set()
    for rule in alerts():
        used |= check_dashboard.metric_names(rule["expr"])
        for text in rule["annotations"].values():  # query templates too
            for q in re.findall(r'query "((?:\\.|[^"\\])*)"', text):
                used |= check_dashboard.metric_names(q.replace('\\"', '"'))
    assert used - contract == set(), "metrics not in docs/metrics.md"


def test_every_selector_names_the_exporter_job():
    for rule in alerts():
        for sel in re.findall(r"\b([a-z_:]+)\{([^}]*)\}", rule["expr"]):
            assert 'job="kvip-exporter"' in sel[1], f"{rule['alert']}: {sel[0]} without job"


def test_yamllint():
    """The project's own .yamllint (tools/lint), on sources, generated files and tests."""
    need("yamllint")
    res = subprocess.run(["yamllint", "-s", "-c", REPO / ".yamllint", REPO / "rules", ALERT_TESTS,
                          ANNOTATION_TESTS, REPO / "deploy/alertmanager", REPO / "dashboards"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
