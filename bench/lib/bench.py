"""bench/run's driver: runs the phases, keeps raw results, regenerates the report.

Phases: loopback (footprint, serving, RSS growth), callgrind, collectors (each collector's
cost per scrape, the ARP probe's idle CPU), apiload, detect, failover, upgrade (the last four
need the testbed), report. `all` runs every one. Results of each
phase are merged into OUT/results.json, so a phase can be re-run alone and the report still
shows the others (each section says when it was measured).
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import callgrind  # noqa: E402
import collectors  # noqa: E402
import loopback  # noqa: E402
import report  # noqa: E402
import testbed  # noqa: E402
from common import REPO, load_json, loadavg, log, machine, save_json, summary  # noqa: E402

ALL = ["loopback", "callgrind", "collectors", "apiload", "detect", "failover", "upgrade", "rollout",
       "report"]
TESTBED_PHASES = {"apiload", "detect", "failover", "upgrade", "rollout"}


class LoadSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.values, self.stop = [], threading.Event()

    def run(self):
        while not self.stop.wait(5):
            self.values.append(loadavg()[0])


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    # SIGTERM (timeout, kill) unwinds like Ctrl-C, so every finally block stops what it started.
    signal.signal(signal.SIGTERM, _interrupt)
    ap = argparse.ArgumentParser(prog="bench/run")
    ap.add_argument("phases", nargs="*", default=["all"], help=" ".join(ALL) + " or all")
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--fixed-rate", required=True)
    ap.add_argument("--out", required=True, help="raw results directory")
    ap.add_argument("--testbed", default=os.environ.get("KVIP_TESTBED", "bench"))
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--events", type=int, default=60)
    ap.add_argument("--failovers", type=int, default=5)
    ap.add_argument("--upgrade-reps", type=int, default=5)
    ap.add_argument("--rollout-reps", type=int, default=5)
    ap.add_argument("--api-window-seconds", type=int, default=60)
    ap.add_argument("--callgrind-scrapes", type=int, default=300)
    ap.add_argument("--keep-testbed", action="store_true",
                    help="leave a testbed this run started up (one that was up stays up anyway)")
    ap.add_argument("--quick", action="store_true",
                    help="a few seconds per measurement: checks the plumbing, figures are meaningless")
    ctx = ap.parse_args()
    if ctx.quick:
        ctx.idle_seconds, ctx.events, ctx.failovers, ctx.upgrade_reps = 5, 6, 1, 1
        ctx.rollout_reps = 1
        ctx.api_window_seconds, ctx.callgrind_scrapes = 10, 20
    phases = ALL if "all" in ctx.phases else ctx.phases
    unknown = set(phases) - set(ALL)
    if unknown:
        ap.error(f"unknown phase(s) {', '.join(sorted(unknown))}")
    os.makedirs(ctx.out, exist_ok=True)
    ctx.out_dir = ctx.out
    path = os.path.join(ctx.out, "results.json")
    results = load_json(path) if os.path.exists(path) else {}

    if set(phases) - {"report"} or "kvip_version" not in results:
        out = subprocess.run([ctx.exporter, "--version"], capture_output=True, text=True)
        # The tree is shared and edited while we run: say whether it had local changes.
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        results["kvip_version"] = out.stdout.strip() + (" + uncommitted changes" if dirty else "")
    sampler = LoadSampler()
    sampler.start()
    run_info = machine()
    run_info["phases"] = phases
    ran_loopback = {}

    def loopback_phases(extra_pids):
        if "loopback" not in phases and "callgrind" not in phases:
            return
        res = loopback.run(ctx, extra_pids, do_loopback="loopback" in phases,
                           do_callgrind="callgrind" in phases)
        res["measured"] = time.strftime("%Y-%m-%d %H:%M")
        if "loopback" in phases:
            results["loopback"] = {k: v for k, v in res.items() if k != "callgrind"}
        if "callgrind" in phases:
            results["callgrind"] = res["callgrind"]
            results["callgrind"]["measured"] = res["measured"]
        ran_loopback["done"] = True
        save_json(path, results)

    try:
        tb_phases = [p for p in phases if p in TESTBED_PHASES]
        if tb_phases:
            # The loopback phases run inside, so the footprint window also covers the
            # testbed's kube-vip, exporters and kube-state-metrics.
            merged = results.get("testbed", {})

            def record(tb):
                now = time.strftime("%Y-%m-%d %H:%M")
                # Per result too: a re-run of one phase must not re-date the others' figures.
                stamps = merged.setdefault("measured_at", {})
                for key in tb:
                    if tb.get(key) != merged.get(key) or key not in stamps:
                        stamps[key] = now
                merged.update(tb)
                merged["measured"] = now
                results["testbed"] = merged
                save_json(path, results)
            record(testbed.run(ctx, tb_phases, loopback_hook=loopback_phases, on_change=record))
        if not ran_loopback:
            loopback_phases({})
        if "collectors" in phases:
            results["collectors"] = collectors.run(ctx)
            results["collectors"]["measured"] = time.strftime("%Y-%m-%d %H:%M")
            results["collectors"]["kvip_version"] = results["kvip_version"]
            save_json(path, results)
    finally:
        sampler.stop.set()
        run_info["loadavg_during"] = summary(sampler.values) if sampler.values else {"n": 0}
        run_info["loadavg_end"] = loadavg()
        if set(phases) - {"report"}:
            results.setdefault("runs", []).append(run_info)
            results["machine"] = run_info
        save_json(path, results)
    if "report" in phases:
        # A --quick run's figures mean nothing: its report stays beside its raw results.
        where = ctx.out if ctx.quick else os.path.join(REPO, "bench")
        report.write(results, where)
        log(f"wrote {where}/results.md and latency.png")


if __name__ == "__main__":
    main()
