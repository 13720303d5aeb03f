#!/usr/bin/env python3
"""Live table of the testbed's three kvip-exporters, refreshed every second.

Reads each node's /metrics from inside that node's network namespace (nothing in the root
namespace talks to testbed addresses). After --failover-after seconds it stops the leader's
kube-vip container once (crictl stop, a clean SIGTERM), so the failover shows in the table.
"""
import argparse
import subprocess
import sys
import time

NODES = ["cp1", "cp2", "cp3"]


def scrape(testbed, node):
    """Returns {metric_name: value} of the node's exporter (labels dropped), or None."""
    try:
        out = subprocess.run(
            ["nsenter", f"--net=/run/netns/{testbed}-{node}", "--",
             "curl", "-fsS", "--max-time", "2", "http://127.0.0.1:9112/metrics"],
            capture_output=True, text=True, timeout=5, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    values = {}
    for line in out.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        name = key.split("{", 1)[0]
        values.setdefault(name, float(value))
    return values


def show(value, fmt="{:.0f}"):
    return "-" if value is None else fmt.format(value)


def yes_no(value):
    return "-" if value is None else ("yes" if value >= 1 else "no")


def stop_kubevip(testbed, node):
    # crictl stop without --timeout is a SIGKILL; 10 s lets kube-vip release the lease.
    cmd = "crictl stop --timeout 10 $(crictl ps -q --name kube-vip)"
    subprocess.run(["tools/testbed", "exec", node, "--", "sh", "-c", cmd],
                   env={"KVIP_TESTBED": testbed, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                   capture_output=True, check=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--testbed", default="kvip")
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--failover-after", type=float, default=20)
    args = parser.parse_args()

    start = time.monotonic()
    failover_note = f"the leader's kube-vip will be stopped at t={args.failover_after:.0f}s"
    while (elapsed := time.monotonic() - start) < args.duration:
        rows = {node: scrape(args.testbed, node) for node in NODES}
        if failover_note.startswith("the leader") and elapsed >= args.failover_after:
            leaders = [n for n, m in rows.items() if m and m.get("kubevip_is_leader") == 1]
            if leaders:
                stop_kubevip(args.testbed, leaders[0])
                failover_note = f"t={elapsed:.0f}s: stopped kube-vip on leader k8s-{leaders[0]}"
        lines = [f"kvip-exporter live (testbed {args.testbed})  t={elapsed:5.1f}s of "
                 f"{args.duration:.0f}s   Ctrl-C ends",
                 "",
                 f"{'node':<9}{'leader':<8}{'VIP bound':<11}{'healthz':<9}"
                 f"{'lease age s':<13}{'kube-vip up':<13}{'restarts':<9}{'watch up':<9}"]
        for node, m in rows.items():
            m = m or {}
            lines.append(
                f"{'k8s-' + node:<9}{yes_no(m.get('kubevip_is_leader')):<8}"
                f"{yes_no(m.get('kubevip_vip_bound')):<11}"
                f"{yes_no(m.get('kubevip_vip_healthz_up')):<9}"
                f"{show(m.get('kubevip_lease_age_seconds'), '{:.1f}'):<13}"
                f"{yes_no(m.get('kubevip_up')):<13}"
                f"{show(m.get('kubevip_process_restarts_total')):<9}"
                f"{yes_no(m.get('kubevip_lease_watch_up')):<9}")
        lines += ["", failover_note]
        sys.stdout.write("\033[H\033[2J" + "\n".join(lines) + "\n")
        sys.stdout.flush()
        time.sleep(1)  # refresh period of the display, not a wait for a condition


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
