"""vip_healthz: GET https://<vip>:6443/healthz in the background, as the seed did by hand.

Probed every --vip.healthz-interval on the exporter's event loop; scrapes expose the last result.

Against the testbed's real VIP (served by kube-vip in front of the real API servers) from
inside each node's network namespace; the deadline against a stalled TCP peer (the one
fault the real API server cannot be made to produce) in a private namespace.
"""
import base64
import json
from pathlib import Path

import pytest

from testbed_fixture import NODES, VIP, cluster, testbed, wait_for  # noqa: F401
from testbed_fixture import _shared_helpers
from test_lease_watch import start_exporter  # noqa: F401  (a fixture)

helpers = _shared_helpers()
REPO = Path(__file__).resolve().parent.parent.parent
UNRELATED_CA = REPO / "tests/unit/fixtures/kube/pki/ca.crt"  # signed nothing on the testbed


def up(vip=VIP):
    return f'kubevip_vip_healthz_up{{vip="{vip}"}}'


def duration(vip=VIP):
    return f'kubevip_vip_healthz_duration_seconds{{vip="{vip}"}}'


SUCCESS = 'kvip_exporter_collector_success{collector="vip_healthz"}'


def test_the_vip_answers_ok_from_every_node(start_exporter):
    for node in NODES:
        exporter = start_exporter(node, extra=["--no-lease.watch"])
        wait_for(lambda: exporter.value(up()) == 1, timeout=15, what=f"healthz up from {node}")
        samples = exporter.metrics()
        assert 0 < samples[duration()] < 2.0
        assert samples[SUCCESS] == 1
        # Verified with the kubeconfig's CA: the VIP is in the API server certificate.
        assert "VIP healthz ok" in exporter.log_text()


def test_a_ca_that_did_not_sign_the_server_fails_unless_insecure(start_exporter, tmp_path):
    node = "cp1"
    kubeconfig = tmp_path / "unrelated-ca.kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {
            "server": "https://127.0.0.1:6443",
            "certificate-authority-data": base64.b64encode(UNRELATED_CA.read_bytes()).decode()}}],
        "contexts": [{"name": "c", "context": {"cluster": "c"}}],
        "current-context": "c"}))
    strict = start_exporter(node, kubeconfig=kubeconfig, extra=["--no-lease.watch"])
    insecure = start_exporter(node, kubeconfig=kubeconfig,
                              extra=["--no-lease.watch", "--vip.healthz-insecure"])
    wait_for(lambda: strict.value(up()) == 0 and "VIP healthz failed" in strict.log_text(),
             timeout=15, what="healthz down with an unrelated CA")
    failure = next(line for line in strict.log_text().splitlines() if "VIP healthz failed" in line)
    assert f"https://{VIP}:6443/healthz" in failure and "certificate" in failure, failure
    assert strict.value(SUCCESS) == 0
    wait_for(lambda: insecure.value(up()) == 1, timeout=15, what="healthz up when insecure")


def test_an_unserved_vip_fails_within_the_deadline(start_exporter):
    # An address on the node's LAN that nobody holds: what a VIP no kube-vip announces is.
    exporter = start_exporter("cp1", extra=["--no-lease.watch", "--vip.address=10.10.30.99",
                                            "--vip.healthz-timeout=1s"])
    samples = wait_for(lambda: (s := exporter.metrics()).get(up("10.10.30.99")) == 0 and s,
                       timeout=15, what="healthz down for an unserved VIP")
    assert samples[duration("10.10.30.99")] <= 1.5  # the deadline, plus scheduling slack
    assert samples[SUCCESS] == 0


def test_a_stalled_peer_never_delays_a_scrape(exporter_bin, netns):
    port = 16443
    stalled = netns.popen("python3", REPO / "tests/fakes/stalled_server.py", "127.0.0.1", port,
                          text=True)
    assert stalled.stdout.readline().strip() == "ready"
    exporter = netns.popen(exporter_bin, "--web.listen-address=127.0.0.1:9112",
                           "--kubevip.manifest=/nonexistent/kube-vip.yaml", "--no-lease.watch",
                           "--no-kubevip.log", "--vip.address=127.0.0.1",
                           f"--vip.healthz-port={port}", "--vip.healthz-timeout=500ms",
                           "--vip.healthz-insecure")

    def scrape():
        if exporter.poll() is not None:
            pytest.fail(f"exporter exited: {exporter.stderr.read().decode()}")
        status, body = netns.http_get("http://127.0.0.1:9112/metrics")
        return helpers.parse_metrics(body) if status == 200 else None

    # Scrapes answer at once while the probe waits for its deadline in the background; the
    # result shows once the first probe has ended.
    samples = wait_for(lambda: (s := scrape()) and up("127.0.0.1") in s and s, timeout=15,
                       what="a scrape with the first probe's result")
    assert samples[up("127.0.0.1")] == 0
    assert 0.4 <= samples[duration("127.0.0.1")] <= 1.0
    assert samples['kvip_exporter_collector_duration_seconds{collector="vip_healthz"}'] < 0.4
    assert samples[f'kubevip_vip_healthz_last_probe_timestamp_seconds{{vip="127.0.0.1"}}'] > 0
    exporter.terminate()
    log = exporter.communicate(timeout=15)[1].decode()
    # libcurl says "Operation timed out" or "SSL connection timeout", by handshake stage.
    failure = next(line for line in log.splitlines() if "VIP healthz failed" in line)
    assert "timed out" in failure or "timeout" in failure, failure
