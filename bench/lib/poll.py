"""Polls one series on a /metrics endpoint and records when its value changes.

Runs inside a network namespace (bench starts it with nsenter), one process per endpoint so
pollers do not share a GIL. Usage:
  poll.py PORT METRIC LABEL=VALUE[,LABEL=VALUE] VALUE_LABEL|- SECONDS INTERVAL OUT_JSON [STOP_FILE]
VALUE_LABEL '-' reads the sample value; a label name reads that label of the first matching
sample instead (kube_lease_owner's lease_holder). INTERVAL 0 polls back to back.
The output has every change as [t_start, t_end, value] (wall clock of the poll that first
showed it), the number of polls and their durations' median and p99, and with INTERVAL > 0
every poll's start time; polls slower than 0.2 s are listed as [t_start, seconds].
"""

import http.client
import json
import os
import re
import sys
import time

SLOW_S = 0.2  # polls slower than this are listed with their start time


def main():
    port, metric, selector, value_label = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    seconds, interval, out = float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
    stop_file = sys.argv[8] if len(sys.argv) > 8 else None
    wanted = [kv.split("=", 1) for kv in selector.split(",") if kv]
    line_re = re.compile(rb"^" + re.escape(metric.encode()) + rb"(\{[^\n}]*\})?[ \t]+(\S+)", re.M)

    def extract(body):
        for m in line_re.finditer(body):
            labels = m.group(1) or b""
            if all(f'{k}="{v}"'.encode() in labels for k, v in wanted):
                if value_label == "-":
                    return m.group(2).decode()
                lm = re.search(rb'\b' + value_label.encode() + rb'="([^"]*)"', labels)
                return lm.group(1).decode() if lm else None
        return None

    conn = None
    changes, durations, errors, times, slow = [], [], 0, [], []
    last = object()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stop_file and os.path.exists(stop_file):
            break
        t_start = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/metrics")
            body = conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            errors += 1
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
            continue
        t_end = time.time()
        durations.append(t_end - t_start)
        if t_end - t_start > SLOW_S:
            slow.append([round(t_start, 3), round(t_end - t_start, 3)])
        if interval:
            times.append(round(t_start, 3))
        value = extract(body)
        if value != last:
            changes.append([t_start, t_end, value])
            last = value
        if interval:
            time.sleep(interval)
    durations.sort()
    n = len(durations)
    result = {"port": port, "metric": metric, "selector": selector, "polls": n, "errors": errors,
              "poll_ms_p50": 1000 * durations[n // 2] if n else None,
              "poll_ms_p99": 1000 * durations[min(n - 1, int(n * 0.99))] if n else None,
              "changes": changes, "poll_times": times, "slow_polls": slow}
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
