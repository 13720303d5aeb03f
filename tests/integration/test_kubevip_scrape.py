"""kube-vip :2112 scrape against real peers, each test in its own network namespace.

Debian's prometheus-node-exporter (a client_golang exporter, as kube-vip is) stands in for
kube-vip's :2112; tests/fakes/ provide the faults a real exporter cannot produce on demand
(garbage, a peer that accepts and never answers).
"""
import re
import signal
import subprocess

import pytest

from conftest import REPO, ScrapeOnlyExporter, parse_metrics, wait_for

UPSTREAM = ScrapeOnlyExporter.UPSTREAM
LISTEN = ScrapeOnlyExporter.LISTEN
SCRAPE_TIMEOUT_S = 1
FAKES = REPO / "tests" / "fakes"


def series_names(text):
    return {re.split(r"[{ ]", line)[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def metrics(netns):
    status, body = netns.http_get(f"http://{LISTEN}/metrics")
    assert status == 200
    return body


class Upstream:
    """prometheus-node-exporter on kube-vip's port with a minimal collector set: its output
    is go_*, process_*, promhttp_* like kube-vip's, plus node_load*, and passes lint."""

    def __init__(self, netns):
        self.netns = netns
        self.proc = None

    def start(self):
        self.proc = self.netns.popen("prometheus-node-exporter", f"--web.listen-address={UPSTREAM}",
                                     "--collector.disable-defaults", "--collector.loadavg",
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.netns.http_get(f"http://{UPSTREAM}/metrics")[0] == 200,
                 what="node exporter answering")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)

    def start_time(self):
        return parse_metrics(self.netns.http_get(f"http://{UPSTREAM}/metrics")[1])[
            "process_start_time_seconds"]


class Exporter(ScrapeOnlyExporter):
    def __init__(self, netns, exporter_bin, log_path, *flags):
        super().__init__(netns, exporter_bin, log_path, *flags, scrape_timeout_s=SCRAPE_TIMEOUT_S)

    def sample(self, name):
        return parse_metrics(metrics(self.netns)).get(name)


@pytest.fixture
def upstream(netns):
    up = Upstream(netns)
    up.start()
    return up


@pytest.fixture
def start_exporter(netns, exporter_bin, tmp_path):
    def start(*flags):
        return Exporter(netns, exporter_bin, tmp_path / "exporter.log", *flags)
    return start


def test_reexports_kube_vip_and_passes_promtool(netns, upstream, start_exporter):
    exporter = start_exporter()
    wait_for(lambda: exporter.sample("kubevip_up") == 1, what="kubevip_up 1")
    text = metrics(netns)
    samples = parse_metrics(text)
    assert samples["kubevip_process_start_time_seconds"] == upstream.start_time()
    assert samples["kubevip_process_restarts_total"] == 0
    assert samples['kvip_exporter_collector_success{collector="kubevip_scrape"}'] == 1
    assert 0 < samples["kubevip_scrape_duration_seconds"] < SCRAPE_TIMEOUT_S
    # Upstream series, prefixed; never unprefixed, never a second copy of ours.
    for name in ("kubevip_go_goroutines", "kubevip_process_resident_memory_bytes",
                 "kubevip_node_load1", 'kubevip_go_gc_duration_seconds{quantile="0.5"}',
                 'kubevip_promhttp_metric_handler_requests_total{code="200"}'):
        assert name in samples, name
    assert "node_load1" not in samples and "go_goroutines" not in samples
    assert text.count("# TYPE kubevip_process_start_time_seconds ") == 1
    assert exporter.log_lines('msg="kube-vip scrape ok"')

    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_no_reexport(netns, upstream, start_exporter):
    exporter = start_exporter("--no-kubevip.reexport")
    wait_for(lambda: exporter.sample("kubevip_up") == 1, what="kubevip_up 1")
    ours = series_names(metrics(netns))
    assert {"kubevip_up", "kubevip_scrape_duration_seconds", "kubevip_process_start_time_seconds",
            "kubevip_process_restarts_total"} <= ours
    upstream_names = series_names(netns.http_get(f"http://{UPSTREAM}/metrics")[1])
    reexported = {"kubevip_" + name for name in upstream_names} & ours
    assert reexported == {"kubevip_process_start_time_seconds"}  # ours, from kube-vip's


def test_restart_is_counted_and_kill_means_down(netns, upstream, start_exporter):
    exporter = start_exporter()
    wait_for(lambda: exporter.sample("kubevip_up") == 1, what="kubevip_up 1")
    first_start = exporter.sample("kubevip_process_start_time_seconds")
    assert exporter.sample("kubevip_process_restarts_total") == 0

    upstream.stop()
    upstream.start()
    wait_for(lambda: exporter.sample("kubevip_process_restarts_total") == 1,
             what="kubevip_process_restarts_total 1 after a restart")
    assert exporter.sample("kubevip_process_start_time_seconds") > first_start
    assert len(exporter.log_lines('msg="kube-vip restarted"')) == 1

    failures_before = len(exporter.log_lines('msg="kube-vip scrape failed"'))
    upstream.stop(signal.SIGKILL)
    wait_for(lambda: exporter.sample("kubevip_up") == 0, what="kubevip_up 0 after SIGKILL")
    for _ in range(3):  # more failed scrapes: still one log line
        assert exporter.sample("kubevip_up") == 0
    failures = exporter.log_lines('msg="kube-vip scrape failed"')[failures_before:]
    assert len(failures) == 1, failures
    assert f"url=http://{UPSTREAM}/metrics" in failures[0]
    assert 'kind="connection failed"' in failures[0]
    samples = parse_metrics(metrics(netns))
    assert samples["kubevip_process_restarts_total"] == 1  # kept while kube-vip is down
    assert "kubevip_process_start_time_seconds" not in samples
    assert "kubevip_go_goroutines" not in samples
    assert samples['kvip_exporter_collector_success{collector="kubevip_scrape"}'] == 0

    upstream.start()
    wait_for(lambda: exporter.sample("kubevip_up") == 1, what="kubevip_up 1 again")
    assert exporter.log_lines('msg="kube-vip scrape recovered"')


def start_fake(netns, script, *args):
    proc = netns.popen("python3", FAKES / script, *UPSTREAM.split(":"), *args,
                       stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("mode,reason", [
    ("body", 'reason="parse error at line 2: expected a metric name or \'#\', found \\"\\\\x00'),
    ("raw", 'kind="transport error"'),
])
def test_garbage_peer_means_down_and_daemon_keeps_serving(netns, start_exporter, mode, reason):
    start_fake(netns, "garbage_server.py", mode)
    exporter = start_exporter()
    for _ in range(3):  # every scrape fails; one log line says why
        assert exporter.sample("kubevip_up") == 0
    failures = exporter.log_lines('msg="kube-vip scrape failed"')
    assert len(failures) == 1, failures
    assert reason in failures[0], failures[0]
    assert netns.http_get(f"http://{LISTEN}/healthz") == (200, "ok\n")


def test_stalled_peer_means_down_within_the_deadline(netns, start_exporter):
    start_fake(netns, "stalled_server.py")
    exporter = start_exporter()
    # The scrape returns after the scrape deadline, well inside curl's own limit of 5 s.
    samples = parse_metrics(metrics(netns))
    assert samples["kubevip_up"] == 0
    assert samples['kvip_exporter_collector_success{collector="kubevip_scrape"}'] == 0
    assert samples["kubevip_scrape_duration_seconds"] >= SCRAPE_TIMEOUT_S * 0.9
    failures = exporter.log_lines('msg="kube-vip scrape failed"')
    assert len(failures) == 1, failures
    assert 'kind=timeout' in failures[0] and "timed out" in failures[0], failures[0]
    assert netns.http_get(f"http://{LISTEN}/healthz") == (200, "ok\n")
    assert parse_metrics(metrics(netns))["kubevip_up"] == 0
