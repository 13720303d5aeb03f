"""vip_netlink collector against the real kernel, in a private network namespace.

Each test gets its own namespace with a veth pair (eno1 and its peer; both up so eno1 has
carrier) and runs kvip-exporter inside it. Every packet stays in that namespace.
"""
import itertools
import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import parse_metrics, require_root, run, stop_logged, wait_for

VIP = "10.10.30.10"
PORT = 9112
_ids = itertools.count()


def ip(netns, *args, check=True):
    return run("ip", "-n", netns, *args, check=check)


def add_eno1(netns):
    ip(netns, "link", "add", "eno1", "type", "veth", "peer", "name", "eno1-peer")
    ip(netns, "link", "set", "eno1-peer", "up")
    ip(netns, "link", "set", "eno1", "up")


@pytest.fixture
def netns():
    require_root()
    name = f"kvt-vip-{os.getpid()}-{next(_ids)}"
    run("ip", "netns", "add", name)
    try:
        ip(name, "link", "set", "lo", "up")
        add_eno1(name)
        yield name
    finally:
        run("ip", "netns", "del", name, check=False)


class Exporter:
    """kvip-exporter running inside a namespace, with its log in a file."""

    def __init__(self, binary, netns, log_path, *flags):
        self.netns = netns
        self.log_path = log_path
        argv = ["ip", "netns", "exec", netns, str(binary),
                f"--web.listen-address=127.0.0.1:{PORT}",
                "--kubevip.manifest=/nonexistent/kube-vip.yaml",
                "--no-vip.healthz", "--no-apiserver.livez", "--no-kubevip.pod", "--no-lease.watch", "--no-kubevip.log", *flags]
        self.log = open(log_path, "w")
        # exec: the ip process becomes the exporter, so its pid is the exporter's.
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.scrape_or_none() is not None, timeout=15, what="exporter serving")

    def scrape_or_none(self):
        if self.proc.poll() is not None:
            pytest.fail(f"exporter exited with {self.proc.returncode}:\n{self.log_text()}")
        result = run("curl", "-sf", "--max-time", "2", f"http://127.0.0.1:{PORT}/metrics",
                     netns=self.netns, check=False)
        return parse_metrics(result.stdout) if result.returncode == 0 else None

    def metrics(self):
        samples = self.scrape_or_none()
        assert samples is not None, "scrape failed"
        return samples

    def value(self, key):
        return self.metrics().get(key)

    def wait_value(self, key, expected, timeout=10):
        wait_for(lambda: self.value(key) == expected, timeout=timeout,
                 what=f"{key} == {expected}")

    def log_text(self):
        return Path(self.log_path).read_text()

    def log_lines(self, needle):
        return [line for line in self.log_text().splitlines() if needle in line]

    def stop(self):
        """SIGTERM; a clean exit (0, no sanitizer report) is part of every test."""
        text = stop_logged(self.proc, self.log)
        assert self.proc.returncode == 0, f"exit {self.proc.returncode}:\n{text}"


@pytest.fixture
def start_exporter(exporter_bin, netns, tmp_path):
    started = []

    def start(*flags):
        exporter = Exporter(exporter_bin, netns, tmp_path / f"exporter{len(started)}.log", *flags)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()


BOUND = f'kubevip_vip_bound{{vip="{VIP}",interface="eno1"}}'
CHANGED = f'kubevip_vip_last_change_timestamp_seconds{{vip="{VIP}",interface="eno1"}}'
UP = 'kubevip_interface_up{interface="eno1"}'
SUCCESS = 'kvip_exporter_collector_success{collector="vip_netlink"}'
MISSING_LOG = "VIP interface not found"


def test_vip_add_and_delete_flip_bound(netns, start_exporter):
    exporter = start_exporter(f"--vip.address={VIP}")
    samples = exporter.metrics()
    assert samples[BOUND] == 0
    assert samples[UP] == 1
    assert samples[SUCCESS] == 1
    started = samples[CHANGED]

    ip(netns, "addr", "add", f"{VIP}/32", "dev", "eno1")
    exporter.wait_value(BOUND, 1)
    assert exporter.value(CHANGED) >= started
    ip(netns, "addr", "del", f"{VIP}/32", "dev", "eno1")
    exporter.wait_value(BOUND, 0)

    # Any prefix length counts; removing one of two leaves the VIP bound.
    ip(netns, "addr", "add", f"{VIP}/24", "dev", "eno1")
    ip(netns, "addr", "add", f"{VIP}/32", "dev", "eno1")
    exporter.wait_value(BOUND, 1)
    ip(netns, "addr", "del", f"{VIP}/32", "dev", "eno1")
    ip(netns, "link", "set", "eno1", "down")  # a later event, to know the del was handled
    exporter.wait_value(UP, 0)
    assert exporter.value(BOUND) == 1

    # The VIP on another interface is not bound to eno1.
    ip(netns, "addr", "del", f"{VIP}/24", "dev", "eno1")
    ip(netns, "addr", "add", f"{VIP}/32", "dev", "eno1-peer")
    exporter.wait_value(BOUND, 0)


def test_link_down_and_up_flip_interface_up(netns, start_exporter):
    exporter = start_exporter(f"--vip.address={VIP}")
    exporter.wait_value(UP, 1)
    ip(netns, "link", "set", "eno1", "down")
    exporter.wait_value(UP, 0)
    ip(netns, "link", "set", "eno1", "up")
    exporter.wait_value(UP, 1)
    # Carrier lost (the peer goes down): administratively up but not running.
    ip(netns, "link", "set", "eno1-peer", "down")
    exporter.wait_value(UP, 0)
    ip(netns, "link", "set", "eno1-peer", "up")
    exporter.wait_value(UP, 1)


def test_interface_deleted_and_recreated(netns, start_exporter):
    exporter = start_exporter(f"--vip.address={VIP}")
    ip(netns, "addr", "add", f"{VIP}/32", "dev", "eno1")
    exporter.wait_value(BOUND, 1)

    ip(netns, "link", "del", "eno1")
    exporter.wait_value(UP, 0)
    assert exporter.value(BOUND) == 0
    assert exporter.value(SUCCESS) == 1

    # Other interfaces come and go, even with the VIP: still exactly one log line.
    for _ in range(3):
        ip(netns, "link", "add", "eth9", "type", "veth", "peer", "name", "eth9-peer")
        ip(netns, "addr", "add", f"{VIP}/32", "dev", "eth9")
        ip(netns, "link", "set", "eth9", "up")
        ip(netns, "link", "del", "eth9")
    assert exporter.value(UP) == 0

    # Recreated: a new ifindex, tracked by name; the VIP must be added again. Events are
    # handled in order, so once this shows, the churn above has been handled too.
    add_eno1(netns)
    exporter.wait_value(UP, 1)
    assert exporter.value(BOUND) == 0
    assert len(exporter.log_lines(MISSING_LOG)) == 1, exporter.log_text()
    ip(netns, "addr", "add", f"{VIP}/32", "dev", "eno1")
    exporter.wait_value(BOUND, 1)
    assert len(exporter.log_lines("VIP interface appeared")) == 1
    assert len(exporter.log_lines(MISSING_LOG)) == 1

    # Renamed away and back.
    ip(netns, "link", "set", "eno1", "down")
    ip(netns, "link", "set", "eno1", "name", "eno1-old")
    exporter.wait_value(UP, 0)
    assert exporter.value(BOUND) == 0
    ip(netns, "link", "set", "eno1-old", "name", "eno1")
    ip(netns, "link", "set", "eno1", "up")
    exporter.wait_value(UP, 1)
    exporter.wait_value(BOUND, 1)  # the renamed interface kept its addresses
    assert len(exporter.log_lines(MISSING_LOG)) == 2


def test_missing_at_start(netns, start_exporter):
    ip(netns, "link", "del", "eno1")
    exporter = start_exporter(f"--vip.address={VIP}")
    samples = exporter.metrics()
    assert samples[UP] == 0 and samples[BOUND] == 0 and samples[SUCCESS] == 1
    assert len(exporter.log_lines(MISSING_LOG)) == 1
    add_eno1(netns)
    exporter.wait_value(UP, 1)


def test_ipv6_vip(netns, start_exporter):
    vip6 = "fd00:10:10:30::10"
    # Written differently from the kernel's form: compared as addresses, labelled as given.
    configured = "fd00:10:10:30:0:0:0:10"
    exporter = start_exporter(f"--vip.address={configured}")
    bound = f'kubevip_vip_bound{{vip="{configured}",interface="eno1"}}'
    assert exporter.value(bound) == 0
    ip(netns, "-6", "addr", "add", f"{vip6}/128", "dev", "eno1", "nodad")
    exporter.wait_value(bound, 1)
    ip(netns, "-6", "addr", "del", f"{vip6}/128", "dev", "eno1")
    exporter.wait_value(bound, 0)
    # With duplicate address detection: bound from the moment the kernel assigns it.
    ip(netns, "-6", "addr", "add", f"{vip6}/64", "dev", "eno1")
    exporter.wait_value(bound, 1)


def test_no_vip_configured(netns, start_exporter):
    exporter = start_exporter()
    samples = exporter.metrics()
    assert samples[UP] == 1
    assert samples[SUCCESS] == 1
    assert not [key for key in samples if key.startswith("kubevip_vip_")]
    assert len(exporter.log_lines("no VIP configured")) == 1


def test_invalid_vip_is_a_clear_error(netns, start_exporter):
    exporter = start_exporter("--vip.address=10.10.30.10/32")
    samples = exporter.metrics()
    assert samples[SUCCESS] == 0
    assert samples[UP] == 1
    lines = exporter.log_lines("invalid VIP address")
    assert len(lines) == 1 and "10.10.30.10/32" in lines[0]


def burst(netns, commands):
    """Runs many ip commands in one process, as fast as the kernel takes them."""
    subprocess.run(["ip", "-n", netns, "-batch", "-"], input="\n".join(commands) + "\n",
                   text=True, check=True, capture_output=True)


def extra_addresses(count):
    return [f"10.77.{i // 250}.{i % 250 + 1}/32" for i in range(count)]


def test_event_burst_ends_in_the_right_state(netns, start_exporter):
    exporter = start_exporter(f"--vip.address={VIP}", "--log.level=debug")
    others = extra_addresses(3000)

    # 1. The exporter is stalled (SIGSTOP) while thousands of changes happen: its socket
    # overflows (ENOBUFS). What stayed queued is the oldest part, where the VIP was added;
    # its removal was dropped. Replaying the queue would say "bound"; a resync says not.
    os.kill(exporter.proc.pid, signal.SIGSTOP)
    try:
        burst(netns, [f"addr add {VIP}/32 dev eno1"]
              + [f"addr add {a} dev eno1" for a in others]
              + [f"addr del {VIP}/32 dev eno1"]
              + [f"addr del {a} dev eno1" for a in others])
    finally:
        os.kill(exporter.proc.pid, signal.SIGCONT)
    wait_for(lambda: exporter.log_lines("resyncing from a fresh dump"), timeout=15,
             what="a resync after lost events")
    # A change made after the burst: once it shows, everything before it has been handled.
    ip(netns, "link", "set", "eno1", "down")
    exporter.wait_value(UP, 0, timeout=15)
    assert exporter.value(BOUND) == 0
    ip(netns, "link", "set", "eno1", "up")
    exporter.wait_value(UP, 1)

    # 2. The same while the exporter runs, ending with the VIP bound.
    burst(netns, [f"addr add {a} dev eno1" for a in others]
          + [f"addr add {VIP}/32 dev eno1", f"addr del {VIP}/32 dev eno1"] * 50
          + [f"addr del {a} dev eno1" for a in others]
          + [f"addr add {VIP}/32 dev eno1"])
    ip(netns, "link", "set", "eno1", "down")
    exporter.wait_value(UP, 0, timeout=15)
    assert exporter.value(BOUND) == 1
    assert exporter.value(SUCCESS) == 1
    resyncs = exporter.log_lines("resyncing from a fresh dump")
    print(f"resyncs logged: {len(resyncs)}; last: {resyncs[-1]}")
