"""Footprint and serving on loopback, in a private network namespace.

Three processes side by side:
  kvip-exporter            --no-lease.watch --no-vip.healthz (both need a cluster); its
                           kube-vip scrape points at the stand-in below; an eno1 (veth) in the
                           namespace carries the VIP so the netlink collector reports it bound
  node_exporter minimal    Debian's prometheus-node-exporter with --collector.disable-defaults
                           --collector.meminfo --collector.loadavg
  node_exporter stand-in   --collector.disable-defaults on :2112: only go_*, process_*,
                           promhttp_*, the shape of kube-vip's own /metrics
"""

import json
import os
import subprocess
import time

import callgrind
from common import (REPO, Netns, Processes, http_ok_in_netns, log, proc_cpu_seconds, proc_cpu_seconds_fine,
                    proc_rss_anon_kb, proc_rss_by_mapping, proc_rss_kb, proc_threads, summary, wait_for, loadavg)

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
MANIFEST = os.path.join(REPO, "tests/unit/fixtures/manifest/kube-vip-generated-v1.0.3.yaml")

KVIP_PORT, NE_MIN_PORT, STANDIN_PORT = 9112, 9100, 2112
VIP = "10.10.30.10"  # the manifest's address

TARGETS = {
    "kvip-exporter": KVIP_PORT,
    "node_exporter (minimal)": NE_MIN_PORT,
    "node_exporter (stand-in for kube-vip)": STANDIN_PORT,
}

# (rate req/s, seconds per target, rounds): each target gets rounds x seconds at each rate,
# interleaved with the others round by round so they see the same machine load.
RATES = [(10, 30, 3), (200, 15, 3), (1000, 9, 3)]
QUICK_RATES = [(10, 2, 1), (200, 2, 1), (1000, 2, 1)]  # --quick: plumbing check only
GROWTH_SCRAPES = 10000
CONNECTIONS = 8
STANDIN_ARGV = [NODE_EXPORTER, "--collector.disable-defaults", "--log.level=warn"]
NE_MIN_ARGV = [NODE_EXPORTER, "--collector.disable-defaults", "--collector.meminfo",
               "--collector.loadavg", "--log.level=warn"]


def node_exporter_version():
    out = subprocess.run([NODE_EXPORTER, "--version"], capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].strip()


def kvip_argv(exporter, port, log_dir):
    return [exporter, f"--web.listen-address=127.0.0.1:{port}",
            f"--kubevip.manifest={MANIFEST}",
            f"--kubevip.metrics-url=http://127.0.0.1:{STANDIN_PORT}/metrics",
            "--no-lease.watch", "--no-vip.healthz", "--node-name=k8s-cp1",
            f"--kubevip.log-path={log_dir}/pods/*.log", "--log.level=warn"]


class LoopbackBed:
    """The private netns and the three processes; a context manager that cleans up."""

    def __init__(self, ctx, exporters=None, arp_peer=False):
        """exporters: name -> (port, extra flags), kvip-exporter instances to start (default one,
        on :9112, as TARGETS says). arp_peer: eno1 goes to a bridge in a `lan` namespace where
        a second namespace also holds the VIP, so an ARP probe for it gets an answer."""
        self.ctx = ctx
        self.netns = Netns(f"kvbench-{os.getpid()}")
        self.procs = Processes(os.path.join(ctx.out_dir, "logs"))
        self.pids = {}
        self.exporters = exporters or {"kvip-exporter": (KVIP_PORT, [])}
        self.targets = {name: port for name, (port, _) in self.exporters.items()}
        self.targets.update({n: p for n, p in TARGETS.items() if n != "kvip-exporter"})
        self.lan = [Netns(f"kvbench-lan-{os.getpid()}"), Netns(f"kvbench-peer-{os.getpid()}")] if arp_peer else []

    def __enter__(self):
        self.netns.__enter__()
        ns = self.netns
        # eno1 as one end of a veth pair whose other end stays in the namespace too (no dummy
        # driver on every kernel); IPv6 off, so bringing it up sends nothing at all.
        ns.run(["ip", "link", "add", "eno1", "type", "veth", "peer", "name", "eno1-peer"])
        if self.lan:
            self._plug_into_lan()
        for dev in ("eno1",) if self.lan else ("eno1", "eno1-peer"):
            ns.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{dev}.disable_ipv6=1"])
            ns.run(["ip", "link", "set", dev, "up"])
        ns.run(["ip", "addr", "add", f"{VIP}/32", "dev", "eno1"])
        pods = os.path.join(self.ctx.out_dir, "pods")
        os.makedirs(pods, exist_ok=True)
        open(os.path.join(pods, "kube-vip.log"), "a").close()
        start = self.procs.start
        p = start("standin", STANDIN_ARGV + [f"--web.listen-address=127.0.0.1:{STANDIN_PORT}"],
                  netns=ns.name)
        self.pids["node_exporter (stand-in for kube-vip)"] = p.pid
        p = start("ne-min", NE_MIN_ARGV + [f"--web.listen-address=127.0.0.1:{NE_MIN_PORT}"],
                  netns=ns.name)
        self.pids["node_exporter (minimal)"] = p.pid
        for name, (port, extra) in self.exporters.items():
            p = start(f"kvip-{port}", kvip_argv(self.ctx.exporter, port, self.ctx.out_dir) + extra,
                      netns=ns.name)
            self.pids[name] = p.pid
        for name, port in self.targets.items():
            wait_for(f"{name} on :{port}",
                     lambda port=port: http_ok_in_netns(ns.name, f"http://127.0.0.1:{port}/metrics"), 30)
        return self

    def _plug_into_lan(self):
        """eno1-peer becomes a port of bridge br0 in the lan namespace; the peer namespace's
        eno1 is another port and holds the VIP too (the kernel answers ARP for it), like a
        second node claiming the VIP on the testbed's bridge. Addresses live only in these
        namespaces; IPv6 is off everywhere, so nothing but the probe's ARP crosses the bridge."""
        lan, peer = self.lan
        for n in self.lan:
            n.__enter__()
        self.netns.run(["ip", "link", "set", "eno1-peer", "netns", lan.name])
        peer.run(["ip", "link", "add", "eno1", "type", "veth", "peer", "name", "p-peer", "netns", lan.name])
        lan.run(["ip", "link", "add", "br0", "type", "bridge"])
        for n, dev in ((lan, "br0"), (lan, "eno1-peer"), (lan, "p-peer"), (peer, "eno1")):
            n.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{dev}.disable_ipv6=1"])
        for dev in ("eno1-peer", "p-peer"):
            lan.run(["ip", "link", "set", dev, "master", "br0"])
        for n, dev in ((lan, "br0"), (lan, "eno1-peer"), (lan, "p-peer"), (peer, "eno1")):
            n.run(["ip", "link", "set", dev, "up"])
        peer.run(["ip", "addr", "add", f"{VIP}/32", "dev", "eno1"])

    def __exit__(self, *exc):
        self.procs.stop_all()
        self.netns.__exit__(*exc)
        for n in self.lan:
            n.__exit__(*exc)

    def fixed_rate(self, port, rate, seconds, out_file, connections=CONNECTIONS, grace=10,
                   accept_encoding=None):
        argv = ["nsenter", f"--net=/run/netns/{self.netns.name}", "--", self.ctx.fixed_rate,
                f"http://127.0.0.1:{port}/metrics", str(rate), str(seconds), str(connections),
                out_file, str(grace)]
        env = dict(os.environ)
        if accept_encoding:
            env["FIXED_RATE_ACCEPT_ENCODING"] = accept_encoding
        res = subprocess.run(argv, capture_output=True, text=True, check=True,
                             timeout=seconds + grace + 30, env=env)
        result = json.loads(res.stdout)
        lat, ok, size = [], 0, 0
        with open(out_file) as f:
            for line in f:
                _, latency_us, good, nbytes = line.split()
                lat.append(float(latency_us) / 1000.0)
                ok += int(good)
                size = int(nbytes) if int(good) else size
        result["latencies_ms"] = lat
        result["bytes"] = size
        return result


def _sum(fn, pids):
    total = 0
    for p in pids:
        try:
            total += fn(p)
        except OSError:
            return None  # the process went away during the window
    return total


def sample_footprint(pids_by_name, seconds):
    """RSS every second and CPU over the window, for every (name -> [pids]) at once."""
    cpu0 = {n: _sum(proc_cpu_seconds, pids) for n, pids in pids_by_name.items()}
    fine0 = {n: _sum(proc_cpu_seconds_fine, pids) for n, pids in pids_by_name.items()}
    rss = {n: [] for n in pids_by_name}
    anon = {n: [] for n in pids_by_name}
    loads = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for n, pids in pids_by_name.items():
            v = _sum(proc_rss_kb, pids)
            if v is not None:
                rss[n].append(v)
            v = _sum(proc_rss_anon_kb, pids)
            if v is not None:
                anon[n].append(v)
        loads.append(loadavg()[0])
        time.sleep(1.0)
    elapsed = time.monotonic() - t0
    out = {}
    for n, pids in pids_by_name.items():
        cpu1 = _sum(proc_cpu_seconds, pids)
        cpu = cpu1 - cpu0[n] if cpu1 is not None and cpu0[n] is not None else None
        fine1 = _sum(proc_cpu_seconds_fine, pids)
        fine = fine1 - fine0[n] if fine1 is not None and fine0[n] is not None else None
        sched = fine
        if cpu is not None and fine is not None:
            cpu = max(cpu, fine)
        v = sorted(rss[n])
        if not v:
            continue
        a = sorted(anon[n]) or [None]
        out[n] = {"rss_kb_median": v[len(v) // 2], "rss_kb_max": v[-1],
                  "rss_anon_kb_median": a[len(a) // 2],
                  "cpu_seconds": cpu, "cpu_percent": 100.0 * cpu / elapsed if cpu is not None else None,
                  "threads": _sum(proc_threads, pids), "window_s": elapsed,
                  # live threads' run time alone (ns): no 10 ms ticks, for differences between
                  # processes whose threads all live through the window
                  "cpu_seconds_sched": sched}
    return out, loads


def run(ctx, extra_pids=None, do_loopback=True, do_callgrind=True):
    """extra_pids: name -> [pids] measured in the same footprint window (testbed processes)."""
    results = {"node_exporter_version": node_exporter_version(),
               "kvip_flags": kvip_argv("kvip-exporter", KVIP_PORT, "<tmp>")[1:]}
    with LoopbackBed(ctx) as bed:
        if do_loopback:
            measure(ctx, bed, results, extra_pids)
        if do_callgrind:
            results["callgrind"] = callgrind.run(
                bed, lambda port: kvip_argv(ctx.exporter, port, ctx.out_dir),
                lambda port: NE_MIN_ARGV + [f"--web.listen-address=127.0.0.1:{port}"],
                lambda port: STANDIN_ARGV + [f"--web.listen-address=127.0.0.1:{port}"],
                ctx.callgrind_scrapes)
    return results


def measure(ctx, bed, results, extra_pids):
    # A few scrapes first, so every process has built its caches before the idle window.
    for name, port in TARGETS.items():
        bed.fixed_rate(port, 50, 1, os.path.join(ctx.out_dir, "warmup.txt"), connections=2)

    log(f"footprint: idle RSS and CPU over {ctx.idle_seconds} s")
    pids = {n: [p] for n, p in bed.pids.items()}
    pids.update(extra_pids or {})
    results["footprint"], loads = sample_footprint(pids, ctx.idle_seconds)
    results["kvip_rss_by_mapping"] = proc_rss_by_mapping(bed.pids["kvip-exporter"])
    results["footprint_load"] = summary(loads)

    rates = QUICK_RATES if ctx.quick else RATES
    log("serving: fixed rates " + ", ".join(f"{r}/s" for r, _, _ in rates))
    serving = {n: {} for n in TARGETS}
    loads = []
    for rate, seconds, rounds in rates:
        for rnd in range(rounds):
            for name, port in TARGETS.items():
                out_file = os.path.join(ctx.out_dir, f"rate-{rate}-{port}-{rnd}.txt")
                r = bed.fixed_rate(port, rate, seconds, out_file)
                loads.append(loadavg()[0])
                agg = serving[name].setdefault(str(rate), {
                    "scheduled": 0, "completed": 0, "ok": 0, "span_s": 0.0,
                    "latencies_ms": [], "bytes": 0})
                for k in ("scheduled", "completed", "ok"):
                    agg[k] += r[k]
                agg["span_s"] += r["span_s"]
                agg["latencies_ms"] += r["latencies_ms"]
                agg["bytes"] = r["bytes"] or agg["bytes"]
        log(f"  {rate}/s done")
    for name in serving:
        for rate, agg in serving[name].items():
            agg["achieved_rps"] = agg["ok"] / agg["span_s"] if agg["span_s"] else 0
            agg["latency_ms"] = summary(agg["latencies_ms"])
    results["serving"] = serving
    results["serving_load"] = summary(loads)
    results["body_bytes"] = {name: serving[name]["200"]["bytes"] for name in TARGETS}

    scrapes = GROWTH_SCRAPES // 10 if ctx.quick else GROWTH_SCRAPES
    log(f"RSS growth: 2 x {scrapes} scrapes each (4 clients, closed loop)")
    growth = {}
    for name in ("kvip-exporter", "node_exporter (minimal)"):
        pid, port = bed.pids[name], TARGETS[name]
        g = {"rss_kb_before": proc_rss_kb(pid), "batches": []}
        for batch in range(2):
            out_file = os.path.join(ctx.out_dir, f"growth-{port}-{batch}.txt")
            r = bed.fixed_rate(port, scrapes, 1, out_file, connections=4, grace=300)
            g["batches"].append({"ok": r["ok"], "completed": r["completed"],
                                 "elapsed_s": r["elapsed_s"], "rss_kb_after": proc_rss_kb(pid)})
        growth[name] = g
    results["rss_growth"] = growth
