"""Scrapes a kvip-exporter N times at a fixed pace and collects what it says of its collectors.

Usage: scrape_collectors.py URL SCRAPES RATE
Runs inside the bench's network namespace (loopback only). Output (one JSON line): per
collector, every scrape's kvip_exporter_collector_duration_seconds and how many scrapes it
reported success; the scrape's own wall time; the last body's kubevip_vip_arp_* samples (to
show the probe's send and receive paths were exercised).
"""

import json
import sys
import time
from urllib.parse import urlsplit

from common import KeepAliveGet, parse_samples


def main():
    url, scrapes, rate = urlsplit(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    client = KeepAliveGet(url.hostname, url.port, url.path)
    durations, successes, wall_ms, arp, failed = {}, {}, [], {}, 0
    due = time.monotonic()
    for _ in range(scrapes):
        t0 = time.monotonic()
        status, body = client.get()
        wall_ms.append((time.monotonic() - t0) * 1000.0)
        if status != 200:
            failed += 1
            continue
        arp = {}
        for name, labels, value in parse_samples(body.decode()):
            if name == "kvip_exporter_collector_duration_seconds":
                durations.setdefault(labels["collector"], []).append(value)
            elif name == "kvip_exporter_collector_success":
                successes[labels["collector"]] = successes.get(labels["collector"], 0) + int(value == 1)
            elif name.startswith("kubevip_vip_arp_"):
                key = name + "".join(f",{k}={v}" for k, v in sorted(labels.items()) if k not in ("vip", "interface"))
                arp[key] = value
        due += 1.0 / rate
        time.sleep(max(0.0, due - time.monotonic()))
    client.close()
    print(json.dumps({"scrapes": scrapes, "failed": failed, "durations_s": durations,
                      "successes": successes, "wall_ms": wall_ms, "arp_samples": arp}))


if __name__ == "__main__":
    main()
