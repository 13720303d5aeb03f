"""Writes bench/results.md and bench/latency.png from bench/run's raw results."""

import os

import matplotlib

from common import REPO

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

KVIP = "kvip-exporter"
NE_MIN = "node_exporter (minimal)"
STANDIN = "node_exporter (stand-in for kube-vip)"
HEALTHZ_INTERVAL_S = 5.0  # the exporter's default --vip.healthz-interval, as the testbed runs it


def mb(kb):
    return f"{kb / 1024:.1f}" if kb is not None else "n/a"


def ms(v, digits=1):
    if v is None or v != v:
        return "n/a"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    return f"{v:.{digits}f}"


def verdict(ok):
    return "**met**" if ok else "**not met**"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def machine_section(r):
    m = r.get("machine", {})
    lines = ["## Machine", "",
             table(["", ""], [
                 ["date", m.get("date", "?")],
                 ["`nproc`", m.get("nproc", "?")],
                 ["CPU", m.get("cpu", "?")],
                 ["kernel", m.get("kernel", "?")],
                 ["kvip-exporter", r.get("kvip_version", "?") + " (Release: -O3, NDEBUG)"],
             ] + [[f"run {i}: {run.get('date', '?')}",
                   f"phases {' '.join(run.get('phases', []))}; load average (1 min, every 5 s) median "
                   f"{run['loadavg_during'].get('p50', float('nan')):.1f}, min "
                   f"{run['loadavg_during'].get('min', float('nan')):.1f}, max "
                   f"{run['loadavg_during'].get('max', float('nan')):.1f}"
                   if run.get("loadavg_during", {}).get("n") else "load average n/a"]
                  for i, run in enumerate(r.get("runs", [m])[-4:], 1)]),
             "", f"The {m.get('nproc', '?')} CPUs are shared with other engineers' builds and testbeds. "
             "`free -m` at the start of the last run:", "", "```", m.get("free", ""), "```", ""]
    return lines


def footprint_section(lb, targets):
    fp = lb.get("footprint", {})
    if not fp:
        return []
    base = fp.get(NE_MIN, {}).get("rss_kb_median")
    rows = []
    for name, v in fp.items():
        ratio = f"{v['rss_kb_median'] / base:.2f}" if base else "n/a"
        cpu = f"{v['cpu_seconds'] * 1000:.1f} ms ({v['cpu_percent']:.3f} %)" if v["cpu_seconds"] is not None else "n/a (restarted)"
        anon_base = fp.get(NE_MIN, {}).get("rss_anon_kb_median")
        anon = v.get("rss_anon_kb_median")
        anon_ratio = f"{anon / anon_base:.2f}" if anon and anon_base else "n/a"
        rows.append([name, mb(v["rss_kb_median"]), mb(v["rss_kb_max"]), ratio, mb(anon), anon_ratio, cpu,
                     v["threads"]])
    out = ["## Footprint (idle, same 60 s window for every process)", "",
           f"Measured {lb.get('measured', '?')}; load average during the window: median "
           f"{lb.get('footprint_load', {}).get('p50', float('nan')):.1f}. RSS from `/proc/PID/status` "
           "every second; CPU over the window = the larger of utime+stime (10 ms ticks, exited threads included) and the threads' schedstat run time (ns). kube-vip rows are its "
           "container process in the testbed; testbed exporters run every collector (lease watch, "
           "VIP netlink, kube-vip scrape, healthz, log tail, manifest).", "",
           table(["process", "RSS median (MiB)", "RSS max (MiB)", "RSS / node_exporter (minimal)",
                  "private (RssAnon) MiB", "private / node_exporter (minimal)",
                  "CPU over the window", "threads"], rows), ""]
    bymap = lb.get("kvip_rss_by_mapping")
    if bymap:
        total = sum(bymap.values())
        curl_deps = ("libgnutls", "libnettle", "libhogweed", "libgmp", "libp11-kit", "libtasn1",
                     "libunistring", "libkrb5", "libk5crypto", "libkrb5support", "libgssapi_krb5",
                     "libldap", "liblber", "libsasl2", "libssh2", "librtmp", "libnghttp2", "libidn2",
                     "libpsl", "libbrotli", "libzstd", "libcom_err", "libkeyutils", "libffi")
        extra = sum(v for k, v in bymap.items() if any(d in k for d in curl_deps))
        top = sorted(bymap.items(), key=lambda kv: -kv[1])[:10]
        out += [f"Where kvip-exporter's {mb(total)} MiB resident sit (from `/proc/PID/smaps`, loopback "
                "instance): " + ", ".join(f"{os.path.basename(k) or k} {v} KiB" for k, v in top) +
                f". Libraries that only libcurl's dependency tree brings in (GnuTLS via librtmp, "
                f"Kerberos, LDAP, SASL, libssh2, nghttp2, ...) hold {extra} KiB.", ""]
    g = lb.get("rss_growth", {})
    if g:
        rows = []
        for name, v in g.items():
            b = v["batches"]
            rows.append([name, mb(v["rss_kb_before"]), f"{mb(b[0]['rss_kb_after'])} ({b[0]['ok']} ok)",
                         f"{mb(b[1]['rss_kb_after'])} ({b[1]['ok']} ok)",
                         f"{(b[1]['rss_kb_after'] - b[0]['rss_kb_after']):+d} KiB"])
        out += ["### RSS after 10 000 and 20 000 more scrapes (after the serving runs)", "",
                table(["process", "RSS before (MiB)", "after +10k", "after +20k",
                       "growth in the second 10k"], rows), ""]
    return out


def serving_section(lb):
    sv = lb.get("serving", {})
    if not sv:
        return []
    rows = []
    for rate in ("10", "200", "1000"):
        base = sv.get(NE_MIN, {}).get(rate, {}).get("latency_ms", {}).get("p99")
        for name in (KVIP, NE_MIN, STANDIN):
            a = sv.get(name, {}).get(rate)
            if not a:
                continue
            l = a["latency_ms"]
            ratio = f"{l['p99'] / base:.2f}" if base else "n/a"
            rows.append([f"{rate}/s", name, f"{a['achieved_rps']:.0f}", ms(l.get("p50"), 2),
                         ms(l.get("p90"), 2), ms(l.get("p99"), 2), ms(l.get("max"), 1), ratio,
                         a["completed"] - a["ok"] + (a["scheduled"] - a["completed"])])
    bb = lb.get("body_bytes", {})
    out = ["## Serving /metrics on loopback", "",
           "Client: `bench/lib/fixed_rate.cc` (libcurl multi, 8 keep-alive connections, open loop: "
           "request *i* is due at *i*/rate and its latency counts from that due time, as wrk2 does; "
           "Debian's wrk 4.1 has no fixed-rate mode). No `Accept-Encoding`, so no gzip on either side. "
           "Each rate runs 3 rounds, the targets taking turns within a round, so they share the "
           f"machine's load. Load average during these runs: median "
           f"{lb.get('serving_load', {}).get('p50', float('nan')):.1f}.", "",
           "kvip-exporter here: " + " ".join(f"`{f}`" for f in lb.get("kvip_flags", [])) +
           " (no lease watch, no VIP healthz: both need a cluster); its kube-vip scrape reads the "
           "stand-in, so **every kvip-exporter scrape includes one stand-in scrape** (a loopback HTTP "
           "request, parse and re-export).", "",
           f"{lb.get('node_exporter_version', 'node_exporter')}. minimal = `--collector.disable-defaults "
           "--collector.meminfo --collector.loadavg`; stand-in = `--collector.disable-defaults` (go_*, "
           "process_*, promhttp_* only, the shape of kube-vip's :2112).", "",
           "Body sizes: " + ", ".join(f"{n} {v} B" for n, v in bb.items()) + ".", "",
           table(["rate", "target", "achieved req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
                  "p99 / node_exporter (minimal)", "errors + unsent"], rows), ""]
    return out


def callgrind_rows(cg, digits=2):
    """[process, instructions per scrape, how] for each callgrind.measure() result in cg."""
    rows = []
    for name, v in cg.items():
        if not isinstance(v, dict) or name == "measured":
            continue
        if "error" in v:
            rows.append([name, "n/a", v["error"][:160]])
        else:
            rows.append([name, f"{v['ir_per_scrape'] / 1e6:.{digits}f} M",
                         f"{v['scrapes']} scrapes: {v['ir_busy'] / 1e6:.0f} M; idle run of the same "
                         f"length: {v['ir_idle'] / 1e6:.0f} M"])
    return rows

def callgrind_section(cg):
    if not cg:
        return []
    rows = callgrind_rows(cg)
    out = ["## Instructions per scrape (valgrind --tool=callgrind)", "",
           "Two runs per process under callgrind: one serving N sequential scrapes after 20 warm-up "
           "scrapes, one idle for as long after the same warm-up; the difference over N is the cost "
           "of a scrape, start-up and timers cancelled. Repeatable to a few per cent on a busy machine.",
           "", table(["process", "instructions per scrape", "how"], rows), ""]
    plain = cg.get("stand-in (kube-vip's shape), plain, as kvip-exporter asks", {})
    gz = cg.get("stand-in (kube-vip's shape), gzip", {})
    if plain.get("ir_per_scrape") and gz.get("ir_per_scrape"):
        out += [f"kvip-exporter's kube-vip scrape asks for the plain text format (no `Accept-Encoding`): "
                f"each of its scrapes costs the kube-vip stand-in {plain['ir_per_scrape'] / 1e6:.2f} M "
                f"instructions, where gzip would cost {gz['ir_per_scrape'] / 1e6:.2f} M "
                f"(×{gz['ir_per_scrape'] / plain['ir_per_scrape']:.1f}) plus zlib's inflate in the exporter, "
                "for a body that never leaves the node.", ""]
    kv = cg.get(KVIP, {})
    if kv.get("top_exclusive"):
        out += ["Where kvip-exporter's instructions go in the scrape run (exclusive, whole run "
                "including start-up; top 12):", "",
                table(["% of run", "function"], [[f"{e['percent']:.1f}", f"`{e['function'][:110]}`"]
                                                  for e in kv["top_exclusive"][:12]]), ""]
    return out


def collectors_section(co):
    """Each collector's cost per scrape, and the idle CPU of the opt-in ARP probe (issue 17)."""
    ps = co.get("per_scrape", {})
    fp = co.get("footprint", {})
    if not ps and not fp:
        return []
    arp, default, no_neigh = f"{KVIP} --vip.arp-probe", KVIP, f"{KVIP} --no-vip.neighbor"
    out = ["## Cost of each collector (loopback, VIP answered on a bridge)", "",
           f"Measured {co.get('measured', '?')} with {co.get('kvip_version', '?')}. The loopback bed (see *Serving*: "
           + " ".join(f"`{f.replace(REPO + '/', '')}`" for f in co.get("kvip_flags", []))
           + "), whose eno1 also reaches, through a bridge in a namespace of its own, a second namespace "
           "that holds the VIP as well, so the ARP probe's requests get an answer and its receive path "
           "(BPF filter, frame parsing, responder window) runs. The `--vip.arp-probe` instance runs in "
           "root's namespace, so it has CAP_NET_RAW; probe interval the default 2 s.", ""]
    if ps:
        names = [n for n in (arp, default) if n in ps]
        collectors = sorted({c for n in names for c in ps[n]["duration_ms"]},
                            key=lambda c: -ps[names[0]]["duration_ms"].get(c, {}).get("p50", 0))
        rows = []
        for c in collectors:
            row = [f"`{c}`"]
            for n in names:
                s = ps[n]["duration_ms"].get(c)
                row += [ms(s["p50"], 3), ms(s["p99"], 3), f"{ps[n]['successes'].get(c, 0)}/{s['n']}"] if s else ["–"] * 3
            rows.append(row)
        header = ["collector"]
        for n in names:
            short = "with `--vip.arp-probe`" if n == arp else "default collectors"
            header += [f"{short}: p50 ms", "p99 ms", "succeeded"]
        first = ps[names[0]]
        arp_samples = ps.get(arp, {}).get("arp_samples", {})
        out += [f"Each instance scraped {first['scrapes']} times at 10/s over one keep-alive loopback "
                "connection; per scrape, `kvip_exporter_collector_duration_seconds{collector}` as the body "
                "reports it. Collectors run one after another on the response's thread, so a scrape costs "
                "about their sum. `kubevip_scrape` is a loopback HTTP request to the kube-vip stand-in and "
                "dominates; the other collectors answer from state their event loop keeps, so their time is "
                "the cost of building their families.", "",
                table(header, rows), ""]
        walls = ", ".join(f"{'with the probe' if n == arp else 'default'} p50 {ms(ps[n]['wall_ms'].get('p50'), 2)} ms, "
                          f"p99 {ms(ps[n]['wall_ms'].get('p99'), 2)} ms" for n in names)
        failing = sorted(c for c in collectors if ps[names[0]]["successes"].get(c, 0) == 0)
        line = f"Whole scrape as the client saw it: {walls}."
        if failing:
            line += (" " + ", ".join(f"`{c}`" for c in failing) + " never succeed in this bed (no cluster: "
                     "no kube-vip pod, no local API server); their time is that of their failure path.")
        if arp_samples:
            line += (" At the end of the run the probe reported: "
                     + ", ".join(f"`{k}` {v:g}" for k, v in sorted(arp_samples.items())) + ".")
        out += [line, ""]
    if fp:
        rows = []
        for name, v in fp.items():
            cpu = v.get("cpu_seconds")
            sched = v.get("cpu_seconds_sched")
            rows.append([name, f"{cpu * 1000:.1f}" if cpu is not None else "n/a",
                         f"{sched * 1000:.2f}" if sched is not None else "n/a",
                         f"{v['cpu_percent']:.4f}" if cpu is not None else "n/a", mb(v["rss_kb_median"]),
                         mb(v.get("rss_anon_kb_median")), v["threads"]])
        window = next(iter(fp.values()))["window_s"]
        out += [f"### Idle CPU, same {window:.0f} s window for every process", "",
                f"No scrapes during the window (load average median "
                f"{co.get('footprint_load', {}).get('p50', float('nan')):.1f}); CPU as in *Footprint*.", "",
                table(["process", "CPU ms over the window", "live threads (schedstat) ms", "CPU %", "RSS median MiB", "private (RssAnon) MiB",
                       "threads"], rows), ""]
        # Differences from the threads' schedstat time: utime+stime counts in 10 ms ticks, as
        # large as the whole difference; no scrape runs, so no response thread exits in between.
        a, d = fp.get(arp, {}).get("cpu_seconds_sched"), fp.get(default, {}).get("cpu_seconds_sched")
        n = fp.get(no_neigh, {}).get("cpu_seconds_sched")
        if a is not None and d is not None:
            extra = (a - d) / window
            line = (f"The ARP probe's extra idle CPU: {(a - d) * 1000:+.1f} ms over {window:.0f} s = "
                    f"{extra * 1000:+.2f} ms/s ({100 * extra:+.4f} % of one CPU), i.e. "
                    f"{(a - d) * 1000 / (window / 2):+.2f} ms per 2 s probe window (one request sent, its "
                    "answers received).")
            if n is not None:
                line += (f" `vip_neighbor` (event-driven, nothing polls) against `--no-vip.neighbor`: "
                         f"{(d - n) * 1000:+.1f} ms over the window.")
            out += [line, ""]
    cg = co.get("callgrind", {})
    if cg:
        rows = callgrind_rows(cg, digits=3)
        out += ["### Instructions per scrape with and without the new collectors (callgrind)", "",
                "As in *Instructions per scrape*, in this bed (the probe gets its answers).", "",
                table(["exporter", "instructions per scrape", "how"], rows), ""]
        ok = [v for v in cg.values() if "ir_per_scrape" in v]
        if len(ok) == 2:
            with_new, without = ok[0]["ir_per_scrape"], ok[1]["ir_per_scrape"]
            out += [f"`vip_neighbor` and `vip_arp_probe` together: {(with_new - without) / 1e6:+.3f} M "
                    f"instructions per scrape ({100 * (with_new - without) / with_new:.1f} % of a scrape "
                    "with them). Compare within this table: the *Instructions per scrape* table above may "
                    "come from an earlier revision with fewer collectors (see its date).", ""]
    return out


def detection_section(tb):
    d = tb.get("detection", {})
    fo = tb.get("failover", {})
    if not d and not fo:
        return []
    stamps = tb.get("measured_at", {})
    when = stamps.get("detection") or stamps.get("failover")
    when = when or (f"in an earlier run (before {tb['measured']})" if tb.get("measured") else "?")
    out = ["## Detection latency (testbed)", "",
           f"Measured {when} on testbed `{tb.get('testbed')}` (3 nodes, real kube-apiserver "
           "v1.35.4, kube-vip static pods). Changes are made from inside node cp1's namespace; a poller "
           "there reads /metrics back to back. Latency = start of the first poll that shows the change "
           "minus the moment the change was sent (a scrape shows the state as of its start, so this is "
           "exact to within one poll, the resolution in the last column); the upper bound uses the end "
           "of that poll instead. The lease events move the holder of a Lease of our own (`kube-system/bench-lock`, "
           "by PATCH) and the VIP events add/remove an address of our own (10.10.30.99/32 on eno1, by "
           "rtnetlink), so kube-vip's real lease and VIP stay untouched; a dedicated exporter on cp1 "
           "watches them (same code path; `--no-vip.healthz` and its kube-vip scrape pointed at a closed "
           "port, so a poll costs only the exporter itself). kube-state-metrics v2.20.0 "
           "(`--resources=leases`) watches the same API server.", ""]
    rows = []
    if d.get("lease"):
        L = d["lease"]
        for name, who in ((KVIP, "exporter"), ("kube-state-metrics", "kube-state-metrics")):
            v = L[who]
            if not v["polls"]:
                continue
            s = v["latency_ms"]
            rows.append([f"lease holder change ({L['events']} events)", name,
                         "`kubevip_is_leader`" if who == "exporter" else "`kube_lease_owner{lease_holder}`",
                         ms(s.get("p50")), ms(s.get("p99")), ms(v.get("upper_ms", {}).get("p99")), v["missed"],
                         f"{v['poll_ms_p50']:.1f}"])
    if d.get("vip"):
        V = d["vip"]
        v = V["exporter"]
        s = v["latency_ms"]
        rows.append([f"VIP add/remove ({V['events']} events)", KVIP, "`kubevip_vip_bound`",
                     ms(s.get("p50")), ms(s.get("p99")), ms(v.get("upper_ms", {}).get("p99")), v["missed"],
                     f"{v['poll_ms_p50']:.1f}"])
        rows.append(["VIP add/remove", "seed (kube-state-metrics)", "none: no VIP metric exists in the seed's path",
                     "–", "–", "–", "–", "–"])
    if rows:
        out += [table(["event", "who", "series", "p50 ms", "p99 ms", "p99 upper bound ms", "missed",
                       "poll p50 ms"], rows), ""]
        if d.get("lease"):
            out += [f"The PATCH itself took p50 {ms(d['lease']['write_ms']['p50'])} ms, p99 "
                    f"{ms(d['lease']['write_ms']['p99'])} ms (included above). In Prometheus both paths add "
                    "the scrape interval (30 s in the seed's and our ServiceMonitors): on average +15 s, at "
                    "worst +30 s, so what the user sees is dominated by the scrape interval for both; the "
                    "exporter's share is the figure above. `kube_lease_renew_time` comes from the same "
                    "object update as `kube_lease_owner` but has whole-second resolution.", ""]
    if fo.get("events"):
        def row(what, key):
            v = fo.get(key, {})
            return [what, ms(v.get("p50")), ms(v.get("p99")), ms(v.get("max")), v.get("n", 0)]
        slow = fo.get("slow_scrapes_s", [])
        hung = fo.get("hung_on_sigterm", [])
        out += [f"### Real failovers ({len(fo['events'])} x SIGTERM to the leading kube-vip; pollers at 20 Hz)", "",
                "Reference: the new holder's `acquireTime`, written by the new leader (same machine clock). "
                "Here the exporters run with every collector, as deployed. *Visible* = start of the first "
                "poll showing the new holder; *answered* = end of that poll.", "",
                table(["what", "p50 ms", "p99 ms", "max ms", "n"], [
                    row("kvip-exporter: new leader's `kubevip_is_leader` = 1, visible", "exp_visible_ms"),
                    row("kvip-exporter: the same, answered", "exp_answered_ms"),
                    row("kube-state-metrics: `kube_lease_owner` shows the new holder, visible", "ksm_visible_ms"),
                    row("kube-state-metrics: the same, answered", "ksm_answered_ms"),
                    row("kill → new leader's `kubevip_is_leader` = 1 answered (kube-vip's failover included)",
                        "exp_after_kill_ms"),
                    row("kill → new leader's `kubevip_vip_bound` = 1 answered", "vip_after_kill_ms"),
                ]), "",
                f"A full-config scrape took {ms(fo.get('exporter_poll_ms_p50'))} ms at p50 on these nodes; around "
                f"the failovers {len(slow)} scrapes took longer than 0.2 s (longest "
                f"{max(slow, default=0):.2f} s)" +
                (": the VIP healthz probe runs in the background, so a scrape waits only for the kube-vip "
                 "scrape of its own node (up to its 2 s timeout)."
                 if fo.get("healthz_probe") == "background" else
                 ": when this was measured the VIP healthz collector still probed at scrape time and waited "
                 "for the VIP while it moved (up to its 2 s timeout), and a scrape waits for its slowest "
                 "blocking collector (the probe now runs in the background; `bench/run failover report` "
                 "re-measures).") +
                f" In {fo.get('blocked_by_slow_scrape', '?')} of {len(fo['events'])} failovers such a scrape was in "
                "flight when the lease moved, and the new leader showed in the first scrape after it: the "
                "exporter's own state was not what lagged, its /metrics was (compare the driven lease "
                "events above, where the healthz probe is off).", ""]
        if hung:
            out += [f"{len(hung)} more SIGTERM(s) left kube-vip hung and still renewing the lease (the "
                    "v1.0.4 shutdown hang); bench SIGKILLed it after 15 s, as kubelet would after the grace "
                    "period, and left that event out of the table.", ""]
    return out


def attribute(verb, what, scope):
    if what == "leases" and verb in ("LIST", "WATCH") and scope == "namespace":
        return "kvip-exporter (one Lease by name) + the API servers' own lease informers (baseline)"
    if what == "leases" and verb in ("LIST", "WATCH") and scope == "cluster":
        return "kube-state-metrics (all Leases)"
    if what == "/healthz":
        return ("kvip-exporter VIP healthz probe (one per node every 5 s in the background; one per "
                "scrape in windows measured before it moved there)")
    if what == "leases" and verb in ("GET", "PUT") and scope == "resource":
        return "kube-vip, kubelets, API servers renewing their own Leases"
    return "testbed"


def per_minute(w):
    return {k: v * 60.0 / w["seconds"] for k, v in w["delta"].items()}


def api_section(tb):
    windows = [tb[k] for k in ("api_baseline", "api_exporters", "api_both", "api_failover") if tb.get(k)]
    if not windows:
        return []
    base = per_minute(tb["api_baseline"]) if tb.get("api_baseline") else {}
    rows = []
    for w in windows:
        pm = per_minute(w)
        for key in sorted(pm):
            verb, what, scope = key.split(" ")
            above = pm[key] - base.get(key, 0.0)
            rows.append([w["label"], verb, what, scope, f"{w['delta'][key]:.0f}", f"{pm[key]:.1f}",
                         "–" if w is tb.get("api_baseline") else f"{above:+.1f}", attribute(verb, what, scope)])
    out = ["## API server load (from the API servers' own `apiserver_request_total`)", "",
           "Summed over the three kube-apiservers (`kubectl get --raw /metrics` in each node namespace); "
           "lease requests and health endpoints only. The exporter's LIST/WATCH of one Lease by name is "
           "counted with `scope=namespace`, like the API servers' own lease informers, so its share is the "
           "rate above the baseline window; kube-state-metrics watches all Leases (`scope=cluster`). "
           "Open watches come from `apiserver_longrunning_requests`, where the exporters' watches show "
           "as `scope=resource`. Long-running requests (WATCH) are counted when they end.", ""]
    for w in windows:
        extra = f", {w['scrapes']} scrapes of exporters/kube-state-metrics" if w.get("scrapes") else ""
        watches = {k: v for k, v in (w.get("watches_open") or {}).items() if v}
        out.append(f"- {w['label']}: {w['seconds']:.0f} s window{extra}"
                   + (f"; open lease watches at the end: {watches}" if watches else ""))
    out += ["", table(["window", "verb", "resource", "scope", "requests", "per minute",
                       "per minute above baseline", "caller"], rows), ""]
    return out


def upgrade_section(tb):
    up = tb.get("upgrade")
    if not up:
        return ["## Upgrade VIP unavailability", "", "Not measured in this run.", ""]
    rows = []
    for i, r in enumerate(up["runs"], 1):
        rows.append([i, r["to"], " → ".join(r["order"]), "yes" if r["ok"] else "**no**",
                     f"{r['seconds']:.0f}", f"{r['unavailable_s']:.1f}", f"{r['longest_gap_s']:.1f}",
                     f"{r['failed']}/{r['probes']}"])
    out = ["## Rolling upgrade: VIP unavailability", "",
           "`kvip-exporter upgrade --to vX` run on each node in turn (followers first, the leader last), "
           "alternating v1.0.3 → v1.0.4 and back; a 10 Hz HTTPS `/healthz` probe of the VIP from the "
           "testbed's lan namespace (fresh connection each, 0.5 s timeout). Unavailable = from the first "
           "failed probe of a run of failures to the next success.", "",
           table(["run", "to", "order", "completed", "total s", "VIP unavailable s", "longest gap s",
                  "failed probes"], rows), ""]
    gaps = [f"{g[1]:.1f} s during {g[2]}" for r in up["runs"] for g in r.get("gaps", []) if len(g) > 2]
    if gaps:
        out += ["Where the gaps fell: " + "; ".join(gaps) + ".", ""]
    for i, r in enumerate(up["runs"], 1):
        for s in r["steps"]:
            if s["rc"]:
                out += [f"Run {i}, {s['node']}: exit {s['rc']}:", "", "```", s["stderr_tail"].strip(), "```", ""]
    return out


def rollout_section(tb):
    ro = tb.get("rollout")
    if not ro:
        return ["## Rollout: VIP unavailability", "", "Not measured in this run.", ""]
    floor = [f["unavailable_s"] for f in ro.get("floor", [])]
    runs = ro.get("runs", [])
    out = ["## Rollout: VIP unavailability", "",
           "`kvip-exporter rollout --to vX` from cp1 (every node's step in a pod on that node, followers "
           "first, the leader last, then verify), alternating v1.0.3 → v1.0.4 and back, with the same "
           "10 Hz `/healthz` probe of the VIP from the lan namespace. The floor beside it is kube-vip's own "
           "hand-over: the same probe around a SIGTERM to the leading kube-vip (what the kubelet sends when "
           "the leader's manifest changes), no tool of ours involved.", ""]
    rows = [[i, r["to"], f"k8s-{r['leader']}", f"{r['rc']} ({r['result']})", f"{r['seconds']:.0f}",
             f"{r['unavailable_s']:.2f}", f"{r['longest_gap_s']:.2f}", f"{r['failed']}/{r['probes']}",
             "; ".join(f"{g[1]:.1f} s in {g[2]}" for g in r.get("gaps", []) if len(g) > 2) or "–"]
            for i, r in enumerate(runs, 1)]
    out += [table(["run", "to", "leader", "exit", "total s", "VIP unavailable s", "longest gap s",
                   "failed probes", "where the gaps fell"], rows), ""]
    ok = [r["unavailable_s"] for r in runs if r["rc"] == 0]
    if ok and floor:
        med, worst = sorted(ok)[len(ok) // 2], max(ok)
        fmed, fworst = sorted(floor)[len(floor) // 2], max(floor)
        outside = sum(g[1] for r in runs for g in r.get("gaps", []) if len(g) > 2 and "(leader)" not in g[2])
        out += [table(["", "median s", "worst s", "n"],
                      [["VIP unavailable per rollout", f"{med:.2f}", f"{worst:.2f}", len(ok)],
                       ["floor: kube-vip's own hand-over (SIGTERM to the leader)", f"{fmed:.2f}",
                        f"{fworst:.2f}", len(floor)],
                       ["ours: rollout minus floor (medians)", f"{med - fmed:+.2f}", "", ""]]), "",
                (f"Outside the leader's step the VIP was never unavailable over {len(ok)} rollouts: the "
                 "followers' steps and the step pods cost the VIP nothing; what remains is the leader's "
                 "hand-over, which kube-vip does." if outside < 0.05 else
                 f"Outside the leader's step the VIP was unavailable for {outside:.1f} s in total over "
                 f"{len(ok)} rollouts (see where the gaps fell): that part is not kube-vip's hand-over."),
                ""]
    return out


def targets_section(r):
    lb, tb, cg = r.get("loopback", {}), r.get("testbed", {}), r.get("callgrind", {})
    rows = []
    fp = lb.get("footprint", {})
    if fp.get(KVIP) and fp.get(NE_MIN):
        k, n = fp[KVIP]["rss_kb_median"], fp[NE_MIN]["rss_kb_median"]
        ka, na = fp[KVIP].get("rss_anon_kb_median"), fp[NE_MIN].get("rss_anon_kb_median")
        private = f"; private (RssAnon) {mb(ka)} vs {mb(na)} MiB = {ka / na:.2f}" if ka and na else ""
        rows.append(["RSS ≤ 1/3 of node_exporter's", f"{mb(k)} vs {mb(n)} MiB = {k / n:.2f}{private}",
                     verdict(k <= n / 3),
                     "file-backed pages of shared libraries: libcrypto alone ~4 MiB, libcurl's dependency "
                     "tree (GnuTLS via librtmp, Kerberos, LDAP, ssh2) ~4 MiB (see Footprint)"])
    sv = lb.get("serving", {})
    if sv.get(KVIP, {}).get("200") and sv.get(NE_MIN, {}).get("200"):
        k = sv[KVIP]["200"]["latency_ms"]["p99"]
        n = sv[NE_MIN]["200"]["latency_ms"]["p99"]
        s = sv.get(STANDIN, {}).get("200", {}).get("latency_ms", {}).get("p99")
        if k <= n:
            limit = ("each scrape includes a scrape of kube-vip (the stand-in's latency; concurrent scrapes "
                     "share one request); every collector runs on the response's thread, none on a thread "
                     "of its own")
        else:
            limit = ("each scrape includes a synchronous scrape of kube-vip (the stand-in's own latency, over "
                     "a kept-alive loopback connection; concurrent scrapes share one request): that answer is "
                     "most of the gap. Our own work is smaller than node_exporter's (see callgrind), and the "
                     "thread the web server starts per response costs about what handing it to a pooled "
                     "thread would (bench/lib/thread_handoff.cc on this machine: 30-40 vs 43-48 µs p50, 57-112 vs 60-80 µs p99)")
        rows.append(["/metrics p99 ≤ node_exporter's at 200 req/s",
                     f"{ms(k, 2)} vs {ms(n, 2)} ms (stand-in alone {ms(s, 2)} ms)", verdict(k <= n), limit])
    d = tb.get("detection", {})
    if d.get("lease"):
        p = d["lease"]["exporter"]["latency_ms"].get("p99")
        rows.append(["lease change visible < 50 ms p99", f"p99 {ms(p)} ms (kube-state-metrics "
                     f"{ms(d['lease']['kube-state-metrics']['latency_ms'].get('p99'))} ms + 30 s scrape)",
                     verdict(p is not None and p < 50 and d['lease']['exporter']['missed'] == 0),
                     "includes the PATCH round trip (the API server's write and watch fan-out)"])
    if d.get("vip"):
        p = d["vip"]["exporter"]["latency_ms"].get("p99")
        rows.append(["VIP change visible < 10 ms p99", f"p99 {ms(p)} ms", verdict(p is not None and p < 10 and d['vip']['exporter']['missed'] == 0),
                     f"upper bound (end of the poll) {ms(d['vip']['exporter'].get('upper_ms', {}).get('p99'))} ms; "
                     f"poll resolution p50 {d['vip']['exporter']['poll_ms_p50']:.1f} ms"])
    w, base = tb.get("api_exporters"), tb.get("api_baseline")
    if w and base:
        pm, pb = per_minute(w), per_minute(base)
        lease_above = sum(pm.get(k, 0) - pb.get(k, 0) for k in set(pm) | set(pb)
                          if k.split(" ")[1] == "leases" and k.split(" ")[0] in ("LIST", "WATCH"))
        healthz = sum(v for k, v in w["delta"].items() if k.split(" ")[1] == "/healthz")
        watches = (w.get("watches_open") or {}).get("WATCH leases resource", 0)
        lease_ok = lease_above <= 3.5 and watches == 3
        figure = (f"{w['scrapes']} scrapes in {w['seconds']:.0f} s: lease LIST/WATCH above baseline "
                  f"{lease_above:+.1f}/min for 3 nodes (watch re-opened every 60 s), open exporter watches "
                  f"{watches:.0f}")
        if w.get("healthz_probe") == "background":
            # The VIP healthz probe runs every --vip.healthz-interval whether or not anyone scrapes.
            probes = 3 * w["seconds"] / HEALTHZ_INTERVAL_S
            rows.append(["zero API requests per scrape, one watch per node",
                         f"{figure}; {healthz:.0f} `/healthz` GETs: the background probe (3 nodes × one per "
                         f"{HEALTHZ_INTERVAL_S:.0f} s = {probes:.0f}), none per scrape",
                         verdict(healthz <= probes + 3 and lease_ok),
                         "the lease watch's routine re-open every 60 s and the VIP healthz probe every "
                         f"`--vip.healthz-interval` ({HEALTHZ_INTERVAL_S:.0f} s), both independent of scrapes"])
        else:
            rows.append(["zero API requests per scrape, one watch per node",
                         f"{figure}; but {healthz:.0f} `/healthz` GETs, one per scrape",
                         verdict(healthz == 0 and lease_ok) + (" (lease API: met)" if lease_ok else ""),
                         "the VIP healthz collector probed `https://VIP:6443/healthz` at scrape time when this "
                         "was measured (`bench/run apiload report` re-measures)"])
    up = tb.get("upgrade", {}).get("runs")
    if up:
        worst = max(r["unavailable_s"] for r in up)
        rows.append(["rolling upgrade < 3 s total VIP unavailability",
                     f"worst of {len(up)}: {worst:.1f} s", verdict(worst < 3 and all(r['ok'] for r in up)),
                     "kube-vip's own failover when the leader's pod restarts (see gaps)"])
    else:
        rows.append(["rolling upgrade < 3 s total VIP unavailability", "pending", "–",
                     "not measured in this run"])
    if not rows:
        return []
    return ["## Targets", "", table(["target", "figure", "verdict", "what limits it"], rows), ""]


def plot(r, path):
    lb, tb = r.get("loopback", {}), r.get("testbed", {})
    panels = []
    sv = lb.get("serving", {})
    for rate in ("200", "1000"):
        if any(sv.get(n, {}).get(rate) for n in (KVIP, NE_MIN, STANDIN)):
            panels.append(("serve", rate))
    d = tb.get("detection", {})
    if d.get("lease") or d.get("vip"):
        panels.append(("detect", None))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2))
    if len(panels) == 1:
        axes = [axes]
    for ax, (kind, rate) in zip(axes, panels):
        series = []
        if kind == "serve":
            for n in (KVIP, NE_MIN, STANDIN):
                a = sv.get(n, {}).get(rate)
                if a:
                    series.append((n, a["latencies_ms"]))
            ax.set_title(f"/metrics latency at {rate} req/s (loopback)")
        else:
            if d.get("lease"):
                series.append(("lease → kubevip_is_leader", d["lease"]["exporter"]["raw"]))
                series.append(("lease → kube_lease_owner (KSM)", d["lease"]["kube-state-metrics"]["raw"]))
            if d.get("vip"):
                series.append(("VIP → kubevip_vip_bound", d["vip"]["exporter"]["raw"]))
            ax.set_title("detection latency (testbed)")
        for name, values in series:
            # A change seen by a poll that was already running reads as 0 ms: plot it at 0.01 ms
            # rather than drop it (log axis).
            v = sorted(max(x, 0.01) for x in values)
            if not v:
                continue
            ax.plot(v, [100.0 * (i + 1) / len(v) for i in range(len(v))], label=f"{name} (n={len(v)})")
        ax.set_xscale("log")
        ax.set_xlabel("milliseconds (log)")
        ax.set_ylabel("cumulative %")
        ax.grid(True, which="both", alpha=0.3)
        ax.axhline(99, color="grey", lw=0.6, ls="--")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(r, bench_dir):
    lines = ["# kvip-exporter performance, side by side with its peers", "",
             "Generated by `bench/run` (do not edit by hand). The machine is shared and busy: read the "
             "ratios, medians and percentiles of processes measured side by side in the same window, "
             "and the instruction counts, rather than any absolute time.", "",
             "![latency distributions](latency.png)", ""]
    lines += targets_section(r)
    lines += machine_section(r)
    lb = r.get("loopback", {})
    lines += footprint_section(lb, None)
    lines += serving_section(lb)
    lines += callgrind_section(r.get("callgrind", {}))
    lines += collectors_section(r.get("collectors", {}))
    tb = r.get("testbed", {})
    lines += detection_section(tb)
    lines += api_section(tb)
    lines += upgrade_section(tb)
    lines += rollout_section(tb)
    with open(os.path.join(bench_dir, "results.md"), "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    plot(r, os.path.join(bench_dir, "latency.png"))
