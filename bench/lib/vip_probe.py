"""10 Hz probe of https://VIP:PORT/healthz from a client's namespace (the testbed's lan).

Usage: vip_probe.py VIP PORT SECONDS OUT_JSON STOP_FILE
Every 100 ms a fresh connection asks for /healthz (timeout 0.5 s; a slower probe delays the
next one). A run of failed probes counts as unavailable from its first failure to the next
success. Output: probes, failed, unavailable_s, longest_gap_s and every gap.
"""

import http.client
import json
import os
import ssl
import sys
import time


def main():
    vip, port, seconds, out, stop = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # availability, not identity, is measured here
    results = []
    start = time.monotonic()
    tick = start
    while time.monotonic() - start < seconds and not os.path.exists(stop):
        t = time.time()
        ok = False
        try:
            conn = http.client.HTTPSConnection(vip, port, context=context, timeout=0.5)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            ok = resp.status == 200 and resp.read().strip() == b"ok"
            conn.close()
        except (OSError, http.client.HTTPException):
            ok = False
        results.append((t, ok))
        tick += 0.1
        delay = tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            tick = time.monotonic()
    gaps, down_since = [], None
    for t, ok in results:
        if not ok and down_since is None:
            down_since = t
        elif ok and down_since is not None:
            gaps.append([down_since, t - down_since])
            down_since = None
    if down_since is not None:
        gaps.append([down_since, results[-1][0] - down_since + 0.1])
    summary = {"probes": len(results), "failed": sum(1 for _, ok in results if not ok),
               "unavailable_s": sum(g for _, g in gaps),
               "longest_gap_s": max((g for _, g in gaps), default=0.0), "gaps": gaps}
    with open(out + ".tmp", "w") as f:
        json.dump(summary, f)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
