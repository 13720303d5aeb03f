"""What each collector costs per scrape, and what the opt-in ARP probe costs at idle.

One loopback bed (loopback.LoopbackBed) whose eno1 holds the VIP and reaches, through a bridge
in a namespace of its own, a peer namespace that holds the VIP too: the ARP probe's requests
get an answer, so its receive path (BPF filter, frame parsing, responder window) runs. Four
processes serve side by side in it, all idle in the same window:
  kvip-exporter                  as the loopback phase runs it (default collectors:
                                 vip_neighbor on)
  kvip-exporter --vip.arp-probe  the same plus the active probe (root's namespace: CAP_NET_RAW)
  kvip-exporter --no-vip.neighbor the collectors before issue 17
  node_exporter (minimal)        and its kube-vip stand-in on :2112
Per-scrape cost: the --vip.arp-probe instance scraped N times at a fixed pace (bounded count
and time), each body's kvip_exporter_collector_duration_seconds{collector} collected. Then
callgrind's instructions per scrape (as the callgrind phase counts them) with both new
collectors and with neither, in the same bed: their share of a scrape.
"""

import os

import callgrind
import loopback
from common import in_netns_python, log, summary

ARP = "kvip-exporter --vip.arp-probe"
NO_NEIGHBOR = "kvip-exporter --no-vip.neighbor"
EXPORTERS = {
    "kvip-exporter": (loopback.KVIP_PORT, []),
    ARP: (9114, ["--vip.arp-probe"]),
    NO_NEIGHBOR: (9115, ["--no-vip.neighbor"]),
}
SCRAPES, RATE = 300, 10.0  # 30 s: 15 probe windows at the default 2 s interval
SCRAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scrape_collectors.py")


def run(ctx):
    scrapes = 30 if ctx.quick else SCRAPES
    results = {"kvip_flags": loopback.kvip_argv("kvip-exporter", loopback.KVIP_PORT, "<tmp>")[1:],
               "variants": {n: extra for n, (_, extra) in EXPORTERS.items()}}
    with loopback.LoopbackBed(ctx, EXPORTERS, arp_peer=True) as bed:
        # A few scrapes each first, so every process has built its caches before the idle window.
        for name, port in bed.targets.items():
            bed.fixed_rate(port, 50, 1, os.path.join(ctx.out_dir, "warmup.txt"), connections=2)
        log(f"collectors: idle CPU over {ctx.idle_seconds} s, "
            f"{', '.join(n for n in bed.pids if 'stand-in' not in n)} side by side")
        pids = {n: [p] for n, p in bed.pids.items() if "stand-in" not in n}
        results["footprint"], loads = loopback.sample_footprint(pids, ctx.idle_seconds)
        results["footprint_load"] = summary(loads)
        per_scrape = {}
        for name in (ARP, "kvip-exporter"):
            log(f"collectors: {scrapes} scrapes of {name} at {RATE:.0f}/s")
            url = f"http://127.0.0.1:{bed.targets[name]}/metrics"
            raw = in_netns_python(bed.netns.name, SCRAPER, [url, scrapes, RATE],
                                  timeout=scrapes / RATE + 120)
            per_scrape[name] = {
                "scrapes": raw["scrapes"], "failed": raw["failed"], "successes": raw["successes"],
                "wall_ms": summary(raw["wall_ms"]), "arp_samples": raw["arp_samples"],
                "duration_ms": {c: summary([v * 1000.0 for v in d]) for c, d in raw["durations_s"].items()}}
        results["per_scrape"] = per_scrape
        port = 9116
        for label, name, extra in (("kvip_arp_probe", ARP, ["--vip.arp-probe"]),
                                   ("kvip_no_new", "kvip-exporter --no-vip.neighbor (neither new collector)",
                                    ["--no-vip.neighbor"])):
            try:
                results.setdefault("callgrind", {})[name] = callgrind.measure(
                    bed, label, loopback.kvip_argv(ctx.exporter, port, ctx.out_dir) + extra, port,
                    ctx.callgrind_scrapes)
            except Exception as err:  # noqa: BLE001 - say what failed, keep the other figures
                results["callgrind"][name] = {"error": str(err)}
    return results
