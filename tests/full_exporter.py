"""The whole daemon on the testbed, for the fault suite (tests/faults) and the soak.

FullExporter runs kvip-exporter inside a testbed node's namespaces with every collector on,
configured exactly as tools/demo and the DaemonSet run it: the node's kubeconfig and
NODE_NAME from its environment, its kube-vip manifest and its CRI pod logs.
"""
import itertools
import subprocess
import time
from pathlib import Path

import pytest

from testbed_fixture import _shared_helpers

exporter_binary = _shared_helpers().exporter_binary
parse_metrics = _shared_helpers().parse_metrics
wait_for = _shared_helpers().wait_for

LEASE = 'lease="plndr-cp-lock",namespace="kube-system"'
IS_LEADER = f"kubevip_is_leader{{{LEASE}}}"
WATCH_UP = f"kubevip_lease_watch_up{{{LEASE}}}"
RECONNECTS = f"kubevip_lease_watch_reconnects_total{{{LEASE}}}"
KUBEVIP_UP = "kubevip_up"
SCRAPE_TIMEOUT_S = 2.0  # the exporter's default --kubevip.scrape-timeout
HEALTHZ_TIMEOUT_S = 2.0  # and --vip.healthz-timeout
COLLECTORS = ("kubevip_scrape", "vip_netlink", "lease_watch", "vip_healthz", "apiserver_livez", "kubevip_pod", "kubevip_log",
              "manifest", "process")

_ports = itertools.count(19500)


def success(collector):
    return f'kvip_exporter_collector_success{{collector="{collector}"}}'


def holder_info(holder):
    return f'kubevip_lease_holder_info{{{LEASE},holder="{holder}"}}'


def vip_bound(vip):
    return f'kubevip_vip_bound{{vip="{vip}",interface="eno1"}}'


class FullExporter:
    """kvip-exporter with every collector, in one testbed node; its log in a file."""

    def __init__(self, tb, node, log_path, extra=(), asan_quarantine_mb=None):
        self.tb, self.node = tb, node
        self.env = tb.env(node)
        self.netns = self.env["NETNS"]
        self.vip = self.env["VIP"]
        self.port = next(_ports)
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "w")
        # Under ASan freed memory waits in a quarantine (256 MiB) before reuse, which reads as
        # growth; a small one makes RSS reflect what the daemon holds (no-op without ASan).
        script = ('' if asan_quarantine_mb is None else
                  'export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb='
                  f'{asan_quarantine_mb}"; ')
        script += ('exec "$0" --web.listen-address=127.0.0.1:' + str(self.port) +
                  ' --kubevip.manifest="$KUBEVIP_MANIFEST"'
                  ' --kubevip.log-path="$KVIP_POD_LOG_DIR/kube-system_kube-vip-*/kube-vip/*.log"'
                  ' "$@"')
        self.proc = tb.popen(node, "sh", "-c", script, exporter_binary(), *extra,
                             stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.scrape_or_none() is not None, timeout=30,
                 what=f"exporter on {node} serving")

    @property
    def pid(self):
        return self.proc.pid

    def scrape(self, timeout=10):
        """(curl exit code, seconds, samples or None)."""
        self.assert_alive()
        started = time.monotonic()
        r = subprocess.run(["ip", "netns", "exec", self.netns, "curl", "-sf", "--max-time",
                            str(timeout), f"http://127.0.0.1:{self.port}/metrics"],
                           capture_output=True, text=True)
        seconds = time.monotonic() - started
        return r.returncode, seconds, (parse_metrics(r.stdout) if r.returncode == 0 else None)

    def scrape_or_none(self):
        return self.scrape()[2]

    def metrics(self):
        code, seconds, samples = self.scrape()
        assert samples is not None, f"scrape of the exporter on {self.node} failed (curl {code})"
        return samples

    def value(self, key):
        return self.metrics().get(key)

    def assert_alive(self):
        if self.proc.poll() is not None:
            pytest.fail(f"exporter on {self.node} exited with {self.proc.returncode}:\n"
                        f"{self.log_text()[-4000:]}")

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def log_lines(self, text):
        return [line for line in self.log_text().splitlines() if text in line]

    def rss_kib(self):
        return _shared_helpers().rss_kib(self.pid)

    def fd_count(self):
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def thread_count(self):
        return len(list(Path(f"/proc/{self.pid}/task").iterdir()))

    def stop(self, deadline=15):
        """SIGTERM; returns seconds to exit. A sanitizer report in the log fails the test."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"exporter on {self.node} did not exit within {deadline}s of SIGTERM")
        seconds = time.monotonic() - started
        self.log.close()
        text = self.log_text()
        _shared_helpers().assert_no_sanitizer_report(text, f"the log of {self.node}")
        assert self.proc.returncode == 0, f"exporter on {self.node} exited {self.proc.returncode}"
        return seconds


def agreement(tb, exporters):
    """The settled truth, from every exporter: the API's holder is the leader on its node
    and on no other, every exporter names that holder, the VIP is bound on the holder's
    node only, and kube-vip answers on every node. Returns the holder or False."""
    holder = tb.lease_holder()
    if not holder:
        return False
    for e in exporters:
        samples = e.scrape_or_none()
        if samples is None:
            return False
        mine = holder == f"k8s-{e.node}"
        if (samples.get(IS_LEADER) != (1 if mine else 0)
                or samples.get(holder_info(holder)) != 1
                or samples.get(vip_bound(e.vip)) != (1 if mine else 0)
                or samples.get(KUBEVIP_UP) != 1
                or samples.get(WATCH_UP) != 1):
            return False
    return holder
