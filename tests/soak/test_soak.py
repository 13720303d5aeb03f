"""A bounded soak on the testbed: the whole daemon on every node for KVIP_SOAK_SECONDS
(default 600) under continuous scrapes, lease churn and VIP flaps, sampling each exporter's
RSS, open fds and threads every few seconds. Passes when fds and threads end where they
started and RSS is flat; prints the figures and writes them to soak.csv.

Not part of tools/test: runs only with KVIP_SOAK=1, e.g.
    KVIP_SOAK=1 KVIP_TESTBED=kvf /usr/bin/python3 -m pytest -s tests/soak
"""
import csv
import os
import random
import statistics
import threading
import time

import pytest

from full_exporter import FullExporter, agreement, wait_for
from testbed_fixture import NODES, testbed  # noqa: F401  (the fixture)

SOAK_SECONDS = float(os.environ.get("KVIP_SOAK_SECONDS", "600"))
SAMPLE_EVERY_S = 5.0
SCRAPE_EVERY_S = 0.5  # per exporter: far denser than Prometheus' 15 s
WARMUP_S = 60.0  # allocator pools, TLS sessions and the first kube-vip restarts settle
RSS_GROWTH_LIMIT_KIB = 8 * 1024  # between the first and the last window after warm-up

pytestmark = pytest.mark.skipif(os.environ.get("KVIP_SOAK") != "1",
                                reason="SKIP: the soak runs only with KVIP_SOAK=1")


class Churn:
    """Lease churn and VIP flaps: alternately freeze the leader's kube-vip (the lease and
    the VIP move; heal) and delete the Lease (re-election), each time waiting for the
    cluster to settle again."""

    def __init__(self, tb):
        self.tb = tb
        self.events = []

    def round(self, i):
        leader = self.tb.leader()
        if not leader:
            return
        if i % 2 == 0:
            self.tb.tool("fault", leader, "freeze-kubevip")
            wait_for(lambda: (h := self.tb.lease_holder(node=next(n for n in NODES if n != leader)))
                     and h != f"k8s-{leader}", timeout=60, interval=0.5,
                     what="the lease moving off the frozen leader")
            self.tb.tool("heal", leader)
            self.events.append(f"freeze-kubevip {leader}")
        else:
            self.tb.kubectl("-n", "kube-system", "delete", "lease", "plndr-cp-lock",
                            "--request-timeout=5s", check=False)
            self.events.append("delete lease")
        self.tb.wait_settled(timeout=120)


def window(rows, node, key, start, end, summary=statistics.median):
    """`summary` of `key` over [start, end)."""
    values = [r[key] for r in rows if r["node"] == node and start <= r["t"] < end]
    return int(summary(values)) if values else 0


def test_soak(testbed, tmp_path):  # noqa: F811
    testbed.tool("heal")
    testbed.wait_settled()
    out_dir = os.environ.get("KVIP_SOAK_OUT") or str(tmp_path)
    exporters = [FullExporter(testbed, node, f"{out_dir}/exporter-{node}.log",
                              asan_quarantine_mb=4) for node in NODES]
    stop = threading.Event()
    scrapes = {e.node: [0, 0] for e in exporters}  # ok, failed
    rows = []

    def scrape_loop(exporter):
        while not stop.is_set():
            code, _, samples = exporter.scrape(timeout=10)
            scrapes[exporter.node][0 if samples is not None else 1] += 1
            stop.wait(SCRAPE_EVERY_S)

    def sample_loop(started):
        while not stop.is_set():
            for e in exporters:
                rows.append({"t": round(time.monotonic() - started, 1), "node": e.node,
                             "rss_kib": e.rss_kib(), "fds": e.fd_count(),
                             "threads": e.thread_count()})
            stop.wait(SAMPLE_EVERY_S)

    churn = Churn(testbed)
    started = time.monotonic()
    threads = [threading.Thread(target=scrape_loop, args=(e,), daemon=True) for e in exporters]
    threads.append(threading.Thread(target=sample_loop, args=(started,), daemon=True))
    for t in threads:
        t.start()
    try:
        i = 0
        while time.monotonic() - started < SOAK_SECONDS:
            churn.round(i)
            i += 1
            # a pause of 5-15 s between rounds so that steady state is sampled too
            left = SOAK_SECONDS - (time.monotonic() - started)
            time.sleep(min(random.uniform(5, 15), max(0.0, left)))
        testbed.wait_settled(timeout=120)
        wait_for(lambda: agreement(testbed, exporters), timeout=60, interval=0.5,
                 what="every exporter agreeing with the API at the end of the soak")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        exit_seconds = {e.node: e.stop() for e in exporters}

    with open(f"{out_dir}/soak.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["t", "node", "rss_kib", "fds", "threads"])
        writer.writeheader()
        writer.writerows(rows)

    elapsed = time.monotonic() - started
    print(f"\nsoak: {elapsed:.0f} s, {len(churn.events)} churn rounds "
          f"({sum(e.startswith('freeze') for e in churn.events)} failovers, "
          f"{sum(e == 'delete lease' for e in churn.events)} lease deletions); samples in "
          f"{out_dir}/soak.csv")
    failures = []
    for e in exporters:
        mine = [r for r in rows if r["node"] == e.node and r["t"] >= WARMUP_S]
        assert mine, f"no samples after warm-up for {e.node}"
        first, last = (window(rows, e.node, "rss_kib", WARMUP_S, WARMUP_S + 60),
                       window(rows, e.node, "rss_kib", elapsed - 60, elapsed + 1))
        # A scrape in flight holds extra fds and threads (the collectors run in parallel):
        # the idle level, the minimum of a window, is what must not grow.
        fds = (window(rows, e.node, "fds", WARMUP_S, WARMUP_S + 60, min),
               window(rows, e.node, "fds", elapsed - 60, elapsed + 1, min))
        threads_seen = (window(rows, e.node, "threads", WARMUP_S, WARMUP_S + 60, min),
                        window(rows, e.node, "threads", elapsed - 60, elapsed + 1, min))
        ok, failed = scrapes[e.node]
        print(f"  {e.node}: scrapes {ok} ok / {failed} failed; RSS median first minute "
              f"{first} KiB, last minute {last} KiB (growth {last - first:+d} KiB), "
              f"min/max {min(r['rss_kib'] for r in mine)}/{max(r['rss_kib'] for r in mine)}; "
              f"idle fds {fds[0]} -> {fds[1]} (max {max(r['fds'] for r in mine)}); "
              f"idle threads {threads_seen[0]} -> {threads_seen[1]} "
              f"(max {max(r['threads'] for r in mine)}); exit {exit_seconds[e.node]:.2f} s")
        if last - first > RSS_GROWTH_LIMIT_KIB:
            failures.append(f"{e.node}: RSS grew {last - first} KiB")
        # One or two connections (to kube-vip, the API server) may be open or not at any
        # moment; a leak over ~1200 scrapes and 20 failovers would be far more.
        if fds[1] > fds[0] + 2:
            failures.append(f"{e.node}: fds {fds[0]} -> {fds[1]}")
        if threads_seen[1] > threads_seen[0]:
            failures.append(f"{e.node}: threads {threads_seen[0]} -> {threads_seen[1]}")
        if failed:
            failures.append(f"{e.node}: {failed} scrapes failed")
    assert not failures, failures
