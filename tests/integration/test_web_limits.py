"""The HTTP side under hostile load, in a private network namespace:

- 1000 slowloris clients (tests/fakes/slow_clients.py, bounded in count and time) must not
  keep a normal scrape from being answered within 1 s, over plain HTTP and over TLS;
- SIGTERM while a scrape is stuck on a stalled kube-vip (tests/fakes/stalled_server.py)
  ends the daemon cleanly within 1 s.
"""
import json
import queue
import signal
import subprocess
import threading

import pytest

from conftest import REPO, parse_metrics, wait_for

LISTEN = "127.0.0.1:9112"
FAKES = REPO / "tests" / "fakes"
PYTHON = "/usr/bin/python3"


class Lines:
    """Collects a process's stdout lines on a thread, so tests can wait for one."""

    def __init__(self, proc):
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.lines.put(line.strip())

    def wait(self, predicate, timeout, what):
        seen = []

        def found():
            while not self.lines.empty():
                seen.append(self.lines.get())
            return next((line for line in seen if predicate(line)), None)

        return wait_for(found, timeout=timeout, what=what)


def start_exporter(netns, exporter_bin, tmp_path, *flags):
    log = open(tmp_path / "exporter.log", "w")
    proc = netns.popen(exporter_bin, f"--web.listen-address={LISTEN}",
                       f"--kubevip.manifest={tmp_path}/no-manifest.yaml", "--node-name=test-node",
                       "--no-lease.watch", "--no-vip.healthz", "--no-apiserver.livez", "--no-kubevip.pod", "--no-kubevip.log", *flags,
                       stdout=subprocess.DEVNULL, stderr=log)
    wait_for(lambda: netns.run("ss", "-Htln", "src", LISTEN).stdout.strip(),
             what="exporter listening")
    return proc


def scrape(netns, url, *curl_args):
    """One scrape as Prometheus makes it (gzip, 1 s timeout): (curl exit, status, seconds, body)."""
    out = netns.run("curl", "-sS", "--compressed", "--max-time", "1", "-o", "-",
                    "-w", "\n%{http_code} %{time_total}", *curl_args, url, check=False)
    body, _, tail = out.stdout.rpartition("\n")
    status, _, seconds = tail.partition(" ")
    return out.returncode, int(status or 0), float(seconds or 0), body


def sanitized(binary):
    """True for an ASan build: several times slower per TLS record than an optimised one."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    return "libasan" in out.stdout


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_1000_slow_clients_do_not_starve_a_scrape(netns, exporter_bin, tmp_path, tls):
    flags, curl_args, scheme = [], [], "http"
    if tls:
        if sanitized(exporter_bin):
            pytest.skip("SKIP: 1000 TLS slow clients need an optimised build (this one has ASan); "
                        "set KVIP_EXPORTER_BIN to a Release build")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", tmp_path / "server.key",
                        "-out", tmp_path / "server.crt"], check=True, capture_output=True)
        (tmp_path / "web.yml").write_text(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        flags = [f"--web.config.file={tmp_path / 'web.yml'}"]
        curl_args = ["--cacert", tmp_path / "server.crt"]
        scheme = "https"
    url = f"{scheme}://{LISTEN}/metrics"
    exporter = start_exporter(netns, exporter_bin, tmp_path, *flags)

    # Over TLS the first connections are spread over 5 s: slowloris is about holding many
    # connections; 1000 simultaneous handshakes are a CPU flood (measured separately).
    ramp = ["--tls", "--ramp", "5"] if tls else []
    attack = netns.popen(PYTHON, FAKES / "slow_clients.py", "127.0.0.1", "9112", "--count", "1000",
                         "--duration", "20", "--interval", "1", *ramp,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output = Lines(attack)
    output.wait(lambda line: line == "ready", timeout=60, what="1000 slow clients connecting")

    # Scrape back to back for as long as the attack lasts: every one answers within 1 s.
    results = []
    while attack.poll() is None:
        results.append(scrape(netns, url, *curl_args))
        code, status, seconds, body = results[-1]
        assert (code, status) == (0, 200), f"scrape {len(results)} failed: curl {code}, HTTP {status}"
        assert "kvip_exporter_build_info{" in body
    summary = json.loads(output.wait(lambda line: line.startswith("{"), timeout=10,
                                     what="slow_clients summary"))
    print(f"\n{scheme}: {len(results)} scrapes under attack, slowest "
          f"{max(r[2] for r in results):.3f} s; slow clients: {summary}")
    assert len(results) >= 10
    assert summary["attempts"] >= 1000 and summary["opened"] >= 500

    # The attack was real: the server had to cut slow clients loose.
    samples = parse_metrics(scrape(netns, url, *curl_args)[3])
    dropped = sum(v for k, v in samples.items()
                  if k.startswith("kvip_exporter_web_connections_dropped_total"))
    assert dropped > 0
    assert exporter.poll() is None


def test_sigterm_during_a_stuck_scrape_exits_without_waiting_for_it(netns, exporter_bin, tmp_path):
    stalled = netns.popen(PYTHON, FAKES / "stalled_server.py", "127.0.0.1", "2112",
                          stdout=subprocess.PIPE, text=True)
    Lines(stalled).wait(lambda line: line == "ready", timeout=10, what="stalled kube-vip")
    exporter = start_exporter(netns, exporter_bin, tmp_path,
                              "--kubevip.metrics-url=http://127.0.0.1:2112/metrics",
                              "--kubevip.scrape-timeout=30s")
    client = netns.popen("curl", "-sS", "--max-time", "60", f"http://{LISTEN}/metrics")
    wait_for(lambda: netns.run("ss", "-Htn", "state", "established", "dst", "127.0.0.1:2112").stdout.strip(),
             what="the scrape waiting on the stalled kube-vip")

    exporter.send_signal(signal.SIGTERM)
    # Well under the 30 s scrape timeout it would otherwise wait out; not a speed test
    # (a sanitizer build on a loaded machine takes a while to exit).
    assert exporter.wait(timeout=8) == 0  # raises TimeoutExpired when it waits for the scrape
    log = (tmp_path / "exporter.log").read_text()
    assert "shutting down" in log
    assert "exiting while a scrape is still collecting" in log
    client.wait(timeout=10)
    assert client.returncode != 0  # the stuck scrape got no answer, and no hang
