"""kubevip_log collector: tails a real CRI log tree in a temp dir, as the kubelet lays it out.

/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log, rotated by renaming
0.log to 0.log.<timestamp> and starting a new 0.log. No network namespace is needed: the
exporter only listens on loopback, and the other collectors are off or loopback-only.
"""
import re
import subprocess
from pathlib import Path

import pytest

from conftest import http_get, parse_metrics, stop_logged, wait_for

CONFLICTS = "kubevip_log_lock_conflicts_total"
ERRORS = "kubevip_log_errors_total"
SUCCESS = 'kvip_exporter_collector_success{collector="kubevip_log"}'

# kube-vip v1.0.3 (client-go 0.34) and v1.0.4 (client-go 0.35), as klog writes them.
V103_CONFLICT = ('E1125 15:00:00.123456       1 leaderelection.go:441] Failed to update lock '
                 'optimistically: Put "https://kubernetes:6443/apis/coordination.k8s.io/v1/'
                 'namespaces/kube-system/leases/plndr-cp-lock": context deadline exceeded, '
                 'falling back to slow path')
V104_CONFLICT = ('E0129 12:00:00.000001       1 leaderelection.go:445] "Failed to update lease '
                 'optimistically, falling back to slow path" err="Put \\"https://kubernetes:6443'
                 '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock\\": '
                 'context deadline exceeded" lock="kube-system/plndr-cp-lock"')
SLOG_ERROR = "2026/11/25 15:00:02 ERROR new manager err=boom"
INFO = "2026/11/25 15:00:03 INFO Broadcasting ARP update for 10.10.30.10"


def cri(content, tag="F", stream="stderr"):
    return f"2026-11-25T15:00:00.123456789Z {stream} {tag} {content}\n"


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


class Exporter:
    def __init__(self, binary, log_glob, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [str(binary), "--web.listen-address=127.0.0.1:0", "--log.level=debug",
             "--kubevip.manifest=/nonexistent/kube-vip.yaml", "--no-vip.healthz", "--no-apiserver.livez", "--no-kubevip.pod",
             "--no-lease.watch", f"--kubevip.log-path={log_glob}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        match = wait_for(lambda: re.search(r'msg="?listening.* ports=(\d+)', self.log_text()),
                         timeout=15, what="exporter listening")
        self.url = f"http://127.0.0.1:{match.group(1)}/metrics"

    def log_text(self):
        if self.proc.poll() is not None:
            pytest.fail(f"exporter exited with {self.proc.returncode}:\n"
                        f"{Path(self.log_path).read_text()}")
        return Path(self.log_path).read_text()

    def log_lines(self, needle):
        return [line for line in self.log_text().splitlines() if needle in line]

    def metrics(self):
        status, body = http_get(self.url)
        assert status == 200
        return parse_metrics(body)

    def wait_counts(self, conflicts, errors, timeout=10):
        """Waits until both counters read exactly these values (more is a failure too)."""
        wait_for(lambda: (lambda m: m[CONFLICTS] == conflicts and m[ERRORS] == errors)(
            self.metrics()), timeout=timeout,
            what=f"conflicts={conflicts} errors={errors}; last {self.counts()}")

    def counts(self):
        m = self.metrics()
        return m.get(CONFLICTS), m.get(ERRORS)

    def stop(self):
        """SIGTERM; a clean exit (0, no sanitizer report) is part of every test."""
        text = stop_logged(self.proc, self.log)
        assert self.proc.returncode == 0, f"exit {self.proc.returncode}:\n{text}"


@pytest.fixture
def pods(tmp_path):
    root = tmp_path / "pods"
    root.mkdir()
    return root


@pytest.fixture
def start_exporter(exporter_bin, pods, tmp_path):
    started = []

    def start():
        exporter = Exporter(exporter_bin, f"{pods}/kube-system_kube-vip-*/kube-vip/*.log",
                            tmp_path / f"exporter{len(started)}.log")
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()


def pod_dir(pods, uid):
    path = pods / f"kube-system_kube-vip-k8s-cp1_{uid}" / "kube-vip"
    path.mkdir(parents=True)
    return path


def test_counts_appended_lines_across_rotation_restart_and_truncation(pods, start_exporter):
    container = pod_dir(pods, "0f1e2d3c")
    # History from before the exporter started is not counted, including a half-written line.
    append(container / "0.log", cri(V103_CONFLICT) * 5 + cri(SLOG_ERROR)
           + cri(V104_CONFLICT)[:40])
    exporter = start_exporter()
    assert exporter.metrics()[SUCCESS] == 1
    append(container / "0.log", cri(V104_CONFLICT)[40:])
    append(container / "0.log", cri(INFO))
    exporter.wait_counts(0, 0)

    # Both wordings; a long line split by the runtime into P records, interleaved with the
    # other stream; a line whose bytes arrive in two writes.
    append(container / "0.log", cri(V103_CONFLICT) + cri(V104_CONFLICT) + cri(SLOG_ERROR))
    append(container / "0.log", cri(V104_CONFLICT[:60], "P") + cri(INFO, stream="stdout")
           + cri(V104_CONFLICT[60:120], "P") + cri(V104_CONFLICT[120:]))
    half = cri(V103_CONFLICT)
    append(container / "0.log", half[:50])
    exporter.wait_counts(3, 4)
    append(container / "0.log", half[50:])
    exporter.wait_counts(4, 5)

    # Kubelet rotation: the runtime writes to 0.log, 0.log is renamed, the runtime writes
    # once more to the renamed file before it reopens, then continues in a new 0.log.
    append(container / "0.log", cri(V103_CONFLICT))
    rotated = container / "0.log.20261125-150000"
    (container / "0.log").rename(rotated)
    append(rotated, cri(V103_CONFLICT))
    append(container / "0.log", cri(V104_CONFLICT))
    exporter.wait_counts(7, 8)
    # The rotated file is read to its end and closed once quiet; nothing is read twice.
    wait_for(lambda: exporter.log_lines("closed=1"), timeout=20, what="rotated file closed")
    rotated.unlink()
    append(container / "0.log", cri(SLOG_ERROR))
    exporter.wait_counts(7, 9)

    # Container restart: 1.log, read from its start.
    append(container / "1.log", cri(V104_CONFLICT) * 2)
    exporter.wait_counts(9, 11)

    # Truncation in place: the file starts over and is read again from its beginning.
    with open(container / "1.log", "r+") as f:
        f.truncate(0)
    append(container / "1.log", cri(V103_CONFLICT))
    wait_for(lambda: exporter.log_lines("truncated=1"), what="truncation noticed")
    exporter.wait_counts(10, 12)

    # Static pod replaced (the upgrade): a new pod directory; the old one goes away.
    new_container = pod_dir(pods, "9a8b7c6d")
    append(new_container / "0.log", cri(INFO) + cri(V104_CONFLICT))
    exporter.wait_counts(11, 13)
    for f in container.iterdir():
        f.unlink()
    container.rmdir()
    container.parent.rmdir()
    append(new_container / "0.log", cri(SLOG_ERROR))
    exporter.wait_counts(11, 14)
    assert exporter.metrics()[SUCCESS] == 1

    # Garbage is skipped with one warning, and tailing goes on.
    append(new_container / "0.log", "not a CRI line\n\x00\xff garbage\n" + cri(V103_CONFLICT))
    exporter.wait_counts(12, 15)
    assert len(exporter.log_lines("not in CRI format")) == 1


def test_no_log_files_then_kube_vip_starts(pods, start_exporter):
    exporter = start_exporter()
    assert exporter.metrics()[SUCCESS] == 0
    assert exporter.metrics()[CONFLICTS] == 0
    assert len(exporter.log_lines("no kube-vip log file matches")) == 1

    # kube-vip starts after the exporter: its log is read from the start.
    container = pod_dir(pods, "0f1e2d3c")
    append(container / "0.log", cri(V103_CONFLICT) + cri(INFO))
    exporter.wait_counts(1, 1)
    assert exporter.metrics()[SUCCESS] == 1
    assert len(exporter.log_lines("kube-vip log files found")) == 1
    assert len(exporter.log_lines("no kube-vip log file matches")) == 1
