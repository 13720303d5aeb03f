"""Shared pytest helpers for kvip-exporter's integration and testbed tests.

Tests wait for conditions with deadlines (wait_for), never fixed sleeps.
"""
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def exporter_binary():
    """The kvip-exporter binary under test: $KVIP_EXPORTER_BIN, else the tools/test build."""
    candidates = [os.environ.get("KVIP_EXPORTER_BIN", ""),
                  REPO / "build" / "test" / "exporter" / "kvip-exporter"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail("no kvip-exporter binary: build it (tools/test) or set KVIP_EXPORTER_BIN")


@pytest.fixture(scope="session")
def exporter_bin():
    return exporter_binary()


def wait_for(condition, timeout=10.0, interval=0.05, what="condition"):
    """Polls condition() until it returns a truthy value; returns that value.

    Fails the test with `what` (a string, or a callable giving one then, e.g. the state the
    condition saw last) and the last value seen when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = condition()
        except Exception as err:  # a probe that raises counts as "not yet"
            last = err
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            what = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds; reaps it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# What a sanitizer build writes to the log when it finds a fault (ASan, LSan, TSan, UBSan).
SANITIZER_REPORTS = ("Sanitizer", "runtime error")


def assert_no_sanitizer_report(text, where):
    """Fails the test when the log text of `where` holds a sanitizer report."""
    for report in SANITIZER_REPORTS:
        assert report not in text, f"sanitizer report in {where}:\n{text[-4000:]}"


def stop_logged(proc, log, timeout=10):
    """Stops a process whose stdout/stderr go to the open file `log` (stop_process), closes
    the log and returns its text; a sanitizer report in it fails the test."""
    stop_process(proc, timeout)
    log.close()
    text = Path(log.name).read_text(errors="replace")
    assert_no_sanitizer_report(text, log.name)
    return text


def run(*argv, check=True, netns=None, **kw):
    """Runs argv (optionally inside a network namespace) and returns CompletedProcess."""
    argv = [str(a) for a in argv]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


def http_get(url, timeout=2.0):
    """GET url from the current namespace; returns (status, body)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def rss_kib(pid):
    """The resident set of process `pid` in KiB (VmRSS; 0 for one without, e.g. a zombie)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def parse_metrics(text):
    """Parses Prometheus text format into {'name{labels}': float} (labels as written)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        samples[key] = float(value)
    return samples


def require_root():
    if os.geteuid() != 0:
        pytest.skip("SKIP: needs root for network namespaces")


def require_tools(*tools):
    """Skips the test when one of these programs is not on PATH (tools/setup installs them)."""
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(f"SKIP: {tool} not installed (run tools/setup)")


class Netns:
    """A private network namespace (only loopback, up) for one test.

    Processes started with popen() run inside it and are ended on close(), which also
    deletes the namespace; nothing started here can reach a non-loopback address.
    """

    def __init__(self, tag):
        self.name = f"kvt-{tag}-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.procs = []
        run("ip", "link", "set", "lo", "up", netns=self.name)

    def popen(self, *argv, **kw):
        """Starts argv inside the namespace (ip netns exec execs it: same pid).

        stdout and stderr are pipes unless given: read them, or pass DEVNULL or a file for
        a chatty process (an unread pipe stalls it once full).
        """
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(["ip", "netns", "exec", self.name] + [str(a) for a in argv],
                                **kw)
        self.procs.append(proc)
        return proc

    def run(self, *argv, **kw):
        return run(*argv, netns=self.name, **kw)

    def http_get(self, url, timeout=5):
        """GET url from inside the namespace with curl; returns (status, body)."""
        out = self.run("curl", "-sS", "--max-time", timeout, "-o", "-", "-w", "\n%{http_code}",
                       url, check=False)
        if out.returncode != 0:
            raise OSError(f"curl {url}: {out.stderr.strip()}")
        body, _, status = out.stdout.rpartition("\n")
        return int(status), body

    def close(self):
        for proc in self.procs:
            stop_process(proc)
        subprocess.run(["ip", "netns", "del", self.name], check=False)


@pytest.fixture
def netns(request):
    """A fresh Netns, removed after the test."""
    require_root()
    tag = request.node.module.__name__.rpartition(".")[2].removeprefix("test_")[:12]
    ns = Netns(tag)
    yield ns
    ns.close()


class ScrapeOnlyExporter:
    """kvip-exporter in a Netns with only the kube-vip scrape on (and its own process
    metrics), serving on LISTEN and scraping http://UPSTREAM/metrics; stderr in log_path."""

    UPSTREAM = "127.0.0.1:2112"
    LISTEN = "127.0.0.1:9112"

    def __init__(self, netns, exporter_bin, log_path, *flags, scrape_timeout_s, env=None):
        self.netns = netns
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = netns.popen(exporter_bin, f"--web.listen-address={self.LISTEN}",
                                f"--kubevip.metrics-url=http://{self.UPSTREAM}/metrics",
                                f"--kubevip.scrape-timeout={scrape_timeout_s}s",
                                f"--kubevip.manifest={log_path.parent}/no-manifest.yaml",
                                "--node-name=test-node", "--no-lease.watch", "--no-vip.healthz",
                                "--no-apiserver.livez", "--no-kubevip.pod", "--no-kubevip.log",
                                *flags, stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        wait_for(lambda: netns.http_get(f"http://{self.LISTEN}/healthz")[0] == 200,
                 what="exporter serving /healthz")

    def log_lines(self, text):
        return [line for line in self.log_path.read_text().splitlines() if text in line]
