"""The daemon's command line and web endpoints, as a user meets them.

Daemons run in a private network namespace (loopback only), so whatever collectors are
enabled, no packet leaves it.
"""
import subprocess

import pytest

from conftest import assert_no_sanitizer_report, run, wait_for

LISTEN = "127.0.0.1:9112"


def start_daemon(netns, exporter_bin, tmp_path, *flags, name="exporter"):
    log = open(tmp_path / f"{name}.log", "w")
    return netns.popen(exporter_bin, f"--web.listen-address={LISTEN}",
                       f"--kubevip.manifest={tmp_path}/no-manifest.yaml", "--node-name=test-node",
                       "--no-lease.watch", "--no-vip.healthz", "--no-apiserver.livez", "--no-kubevip.pod", "--no-kubevip.log", *flags,
                       stdout=subprocess.DEVNULL, stderr=log)


@pytest.fixture
def daemon(netns, exporter_bin, tmp_path):
    proc = start_daemon(netns, exporter_bin, tmp_path)
    wait_for(lambda: netns.http_get(f"http://{LISTEN}/healthz")[0] == 200,
             what="exporter serving /healthz")
    return proc


def test_version(exporter_bin):
    out = run(exporter_bin, "--version", check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("kvip-exporter, version "), out.stdout
    assert "revision: " in out.stdout


@pytest.mark.parametrize("argv,complaint", [
    (["--no-such-flag"], "--no-such-flag"),
    (["--kubevip.scrape-timeout=0s"], "want a duration from 1ms to 60s"),
    (["--kubevip.scrape-timeout=2"], "Missing mandatory unit"),
    (["--vip.healthz-interval=10ms"], "want a duration from 100ms to 3600s"),
])
def test_bad_flag_prints_usage_and_exits_2(exporter_bin, argv, complaint):
    out = run(exporter_bin, *argv, check=False, timeout=30)
    assert out.returncode == 2, out
    assert complaint in out.stderr, out.stderr
    assert "Usage:" in out.stderr and "--web.listen-address" in out.stderr, out.stderr
    assert out.stdout == ""


def test_port_taken_is_one_clear_error_and_exit_1(netns, exporter_bin, tmp_path, daemon):
    second = start_daemon(netns, exporter_bin, tmp_path, name="second")
    assert second.wait(timeout=30) == 1
    log = (tmp_path / "second.log").read_text()
    errors = [line for line in log.splitlines() if "level=error" in line]
    assert len(errors) == 1, log
    assert LISTEN in errors[0], errors[0]
    assert "in use" in errors[0], errors[0]
    assert_no_sanitizer_report(log, "second.log")
    assert daemon.poll() is None  # the first one is unharmed
    assert netns.http_get(f"http://{LISTEN}/healthz") == (200, "ok\n")


def test_landing_page_lists_the_endpoints(netns, daemon):
    status, body = netns.http_get(f"http://{LISTEN}/")
    assert status == 200
    assert 'href="/metrics"' in body and 'href="/healthz"' in body, body


def test_healthz(netns, daemon):
    assert netns.http_get(f"http://{LISTEN}/healthz") == (200, "ok\n")


def test_unknown_path_is_404(netns, daemon):
    status, _ = netns.http_get(f"http://{LISTEN}/no/such/page")
    assert status == 404
    status, _ = netns.http_get(f"http://{LISTEN}/metricsx")
    assert status == 404
