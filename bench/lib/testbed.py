"""The testbed part of bench/run: detection latency, API load, upgrade VIP unavailability.

Runs against tools/testbed instance $KVIP_TESTBED (bench uses its own, "bench"). Every packet
starts inside the instance's namespaces: exporters, kube-state-metrics, pollers and probes
run there through nsenter.
"""

import json
import os
import signal
import subprocess
import time

from common import (REPO, Processes, http_ok_in_netns, log, parse_samples, summary, wait_for,
                    percentile)

TOOLS = os.path.join(REPO, "tools")
LIB = os.path.dirname(os.path.abspath(__file__))
NODES = ["cp1", "cp2", "cp3"]
EXPORTER_PORT = 9112
PROBE_PORT = 9120
KSM_PORT, KSM_TELEMETRY_PORT = 8080, 8081
BENCH_LEASE = "bench-lock"
BENCH_VIP = "10.10.30.99"
SEED_SCRAPE_INTERVAL_S = 30


class Testbed:
    def __init__(self, ctx):
        self.ctx = ctx
        self.name = ctx.testbed
        self.env = dict(os.environ, KVIP_TESTBED=self.name)
        self.procs = Processes(os.path.join(ctx.out_dir, "logs"))
        self.node_env = {}

    # ------------------------------------------------------------ plumbing
    def tb(self, *args, check=True, timeout=600):
        return subprocess.run([os.path.join(TOOLS, "testbed")] + list(args), env=self.env,
                              capture_output=True, text=True, check=check, timeout=timeout)

    def is_up(self):
        return self.tb("is-up", check=False).returncode == 0

    def up(self):
        log(f"testbed {self.name}: up")
        res = self.tb("up", timeout=900, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"tools/testbed up failed: {res.stderr[-2000:]}")

    def netns(self, node):
        return f"{self.name}-{node}"

    def uts(self, node):
        return f"/var/lib/kvip-testbed/{self.name}/run/{node}.uts"

    def envof(self, node):
        if node not in self.node_env:
            env = {}
            for line in self.tb("env", node).stdout.splitlines():
                if line.startswith("export "):
                    k, v = line[len("export "):].split("=", 1)
                    env[k] = v
            self.node_env[node] = env
        return self.node_env[node]

    def kubectl(self, node, *args, timeout=30):
        return self.tb("exec", node, "--", "kubectl", *args, timeout=timeout).stdout

    def lease(self, name="plndr-cp-lock"):
        out = self.kubectl("cp1", "-n", "kube-system", "get", "lease", name, "-o", "json",
                           "--request-timeout=5s")
        return json.loads(out)

    def lease_holder(self):
        return self.tb("lease-holder", check=False).stdout.strip()

    def kubevip_version(self, node):
        with open(self.envof(node)["KUBEVIP_MANIFEST"]) as f:
            for line in f:
                if "image:" in line and "kube-vip" in line:
                    return line.strip().rsplit(":", 1)[1]
        return None

    def kubevip_pids(self, node):
        out = subprocess.run(["ip", "netns", "pids", self.netns(node)], capture_output=True,
                             text=True).stdout.split()
        pids = []
        for p in out:
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip() == "kube-vip":
                        pids.append(int(p))
            except OSError:
                pass
        return pids

    def start_exporter(self, node, name, port, extra=()):
        e = self.envof(node)
        argv = [os.path.join(TOOLS, "testbed"), "exec", node, "--", self.ctx.exporter,
                f"--web.listen-address=127.0.0.1:{port}", f"--kubevip.manifest={e['KUBEVIP_MANIFEST']}",
                f"--kubeconfig={e['KUBECONFIG']}", f"--node-name={e['NODE_NAME']}",
                f"--kubevip.log-path={e['KVIP_POD_LOG_DIR']}/kube-system_kube-vip-*/kube-vip/*.log",
                *extra]
        proc = self.procs.start(name, argv, env=self.env)
        wait_for(f"{name} on {node}:{port}",
                 lambda: http_ok_in_netns(self.netns(node), f"http://127.0.0.1:{port}/metrics", 10), 60)
        return proc

    def start_exporters(self):
        return {n: self.start_exporter(n, f"exporter-{n}", EXPORTER_PORT).pid for n in NODES}

    def start_ksm(self):
        ksm = subprocess.run([os.path.join(TOOLS, "peers"), "path", "kube-state-metrics"],
                             capture_output=True, text=True, check=True).stdout.strip()
        if not os.access(ksm, os.X_OK):
            raise RuntimeError(f"{ksm} is not built (tools/peers build all)")
        e = self.envof("cp1")
        proc = self.procs.start("kube-state-metrics", [
            ksm, f"--kubeconfig={e['KUBECONFIG']}", "--resources=leases",
            "--host=127.0.0.1", f"--port={KSM_PORT}", "--telemetry-host=127.0.0.1",
            f"--telemetry-port={KSM_TELEMETRY_PORT}"], netns=self.netns("cp1"))

        def ready():
            out = subprocess.run(["nsenter", f"--net=/run/netns/{self.netns('cp1')}", "--", "curl",
                                  "-fsS", "-m", "5", f"http://127.0.0.1:{KSM_PORT}/metrics"],
                                 capture_output=True, text=True).stdout
            return 'lease="plndr-cp-lock"' in out
        wait_for("kube-state-metrics lists the leases", ready, 90)
        return proc

    def poller(self, node, name, port, metric, selector, value_label, seconds, interval):
        out = os.path.join(self.ctx.out_dir, f"poll-{name}.json")
        stop = os.path.join(self.ctx.out_dir, f"poll-{name}.stop")
        for f in (out, stop):
            if os.path.exists(f):
                os.remove(f)
        self.procs.start(f"poll-{name}", ["/usr/bin/python3", os.path.join(LIB, "poll.py"),
                                          str(port), metric, selector, value_label, str(seconds),
                                          str(interval), out, stop], netns=self.netns(node))
        return out, stop

    def finish_poller(self, name, out, stop, timeout=30):
        open(stop, "w").close()
        proc = self.procs.procs.get(f"poll-{name}")
        if proc:
            proc.wait(timeout)
            self.procs.procs.pop(f"poll-{name}", None)
        os.remove(stop)
        with open(out) as f:
            return json.load(f)

    def events(self, node, *args, timeout=600):
        argv = ["nsenter", f"--net=/run/netns/{self.netns(node)}", "--", "/usr/bin/python3",
                os.path.join(LIB, "events.py")] + [str(a) for a in args]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"events.py {args[0]} failed: {res.stderr[-1500:]}")
        return json.loads(res.stdout.strip().splitlines()[-1])

    # ------------------------------------------------------------ API server metrics
    def api_counts(self):
        """Requests by (verb, what, scope) summed over the three API servers."""
        counts, watches = {}, {}
        for node in NODES:
            text = self.kubectl(node, "get", "--raw", "/metrics", timeout=60)
            for name, labels, value in parse_samples(text):
                if name == "apiserver_request_total":
                    what = labels.get("resource") or labels.get("subresource") or "?"
                    if labels.get("resource") and labels.get("subresource"):
                        what += "/" + labels["subresource"]
                    if what not in ("leases", "/healthz", "/readyz", "/livez"):
                        continue
                    key = f"{labels.get('verb')} {what} {labels.get('scope') or '-'}"
                    counts[key] = counts.get(key, 0) + value
                elif name == "apiserver_longrunning_requests" and labels.get("resource") == "leases":
                    key = f"{labels.get('verb')} leases {labels.get('scope') or '-'}"
                    watches[key] = watches.get(key, 0) + value
        return {"t": time.time(), "counts": counts, "watches": watches}


def delta(a, b):
    keys = set(a["counts"]) | set(b["counts"])
    d = {k: b["counts"].get(k, 0) - a["counts"].get(k, 0) for k in keys}
    return {k: v for k, v in d.items() if v}, b["t"] - a["t"]


def api_window(bed, label, seconds, scrape_ports=()):
    """Counts requests over `seconds` while every (node, port) in scrape_ports is scraped at 1 Hz."""
    log(f"API load: {label}, {seconds} s")
    pollers = [(f"{label}-{n}-{p}", bed.poller(n, f"{label}-{n}-{p}", p, "up_never", "", "-",
                                               seconds + 30, 1.0)) for n, p in scrape_ports]
    t0 = time.time()
    a = bed.api_counts()
    time.sleep(seconds)
    b = bed.api_counts()
    t1 = time.time()
    scrapes = 0
    for name, (out, stop) in pollers:
        scrapes += sum(1 for t in bed.finish_poller(name, out, stop)["poll_times"] if t0 <= t <= t1)
    d, elapsed = delta(a, b)
    # The exporter probes the VIP's /healthz in the background (every --vip.healthz-interval),
    # not per scrape; the report reads windows without this key as measured before that.
    return {"label": label, "seconds": elapsed, "delta": d, "scrapes": scrapes,
            "watches_open": b["watches"], "healthz_probe": "background"}


def match(events, changes, same):
    """For each event, the first poll after it that shows the expected value. A scrape shows
    the state as of its start (collectors read in-memory state first thing), so the poll's
    start is when the change became visible, to within one poll; its end is an upper bound."""
    lat, upper, missed = [], [], 0
    for i, (t_send, _t_ack, expected) in enumerate(events):
        t_next = events[i + 1][0] if i + 1 < len(events) else float("inf")
        hit = next((c for c in changes if c[1] >= t_send and c[0] < t_next and same(c[2], expected)),
                   None)
        if hit is None:
            missed += 1
        else:
            lat.append(1000.0 * max(0.0, hit[0] - t_send))
            upper.append(1000.0 * (hit[1] - t_send))
    return lat, upper, missed


def outcome(events, polled, same):
    lat, upper, missed = match(events, polled["changes"], same)
    return {"latency_ms": summary(lat), "upper_ms": summary(upper), "missed": missed, "raw": lat,
            "poll_ms_p50": polled["poll_ms_p50"], "poll_ms_p99": polled["poll_ms_p99"],
            "polls": polled["polls"]}


def as_float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def detection(bed, count, with_ksm=True):
    """Driven events on cp1: a Lease of our own and an address of our own, so kube-vip's real
    lease and VIP stay untouched; the exporter code path is the same for any lease/address."""
    res = {}
    # The kube-vip scrape points at a closed port (refused at once) and the healthz probe is
    # off: neither has anything to do with detection, and both would only lengthen each poll,
    # i.e. coarsen the resolution of the measurement.
    bed.start_exporter("cp1", "probe-exporter", PROBE_PORT,
                       extra=[f"--lease.name={BENCH_LEASE}", f"--vip.address={BENCH_VIP}",
                              "--no-vip.healthz", "--kubevip.metrics-url=http://127.0.0.1:1/metrics"])
    try:
        e = bed.envof("cp1")
        log(f"detection: {count} lease holder changes (exporter and kube-state-metrics)")
        bound = count * 1.5 + 60
        p_exp = bed.poller("cp1", "lease-exporter", PROBE_PORT, "kubevip_is_leader",
                           f"lease={BENCH_LEASE}", "-", bound, 0)
        p_ksm = bed.poller("cp1", "lease-ksm", KSM_PORT, "kube_lease_owner",
                           f"lease={BENCH_LEASE}", "lease_holder", bound, 0) if with_ksm else None
        ev = bed.events("cp1", "lease", e["KUBECONFIG"], "kube-system", BENCH_LEASE, "k8s-cp1",
                        "k8s-cp2", count)["events"]
        time.sleep(2)
        exp = bed.finish_poller("lease-exporter", *p_exp)
        ksm = bed.finish_poller("lease-ksm", *p_ksm) if p_ksm else {
            "changes": [], "poll_ms_p50": None, "poll_ms_p99": None, "polls": 0}
        write_ms = [1000 * (a - s) for s, a, _ in ev]
        res["lease"] = {
            "events": len(ev), "write_ms": summary(write_ms),
            "exporter": outcome(ev, exp, lambda v, holder: as_float(v) == (1.0 if holder == "k8s-cp1" else 0.0)),
            "kube-state-metrics": outcome(ev, ksm, lambda v, holder: v == holder),
        }

        log(f"detection: {count} VIP add/remove events")
        p_vip = bed.poller("cp1", "vip-exporter", PROBE_PORT, "kubevip_vip_bound",
                           f"vip={BENCH_VIP}", "-", count * 0.6 + 60, 0)
        ev = bed.events("cp1", "vip", "eno1", BENCH_VIP, count)["events"]
        time.sleep(1)
        vip = bed.finish_poller("vip-exporter", *p_vip)
        res["vip"] = {"events": len(ev), "netlink_ms": summary([1000 * (a - s) for s, a, _ in ev]),
                      "exporter": outcome(ev, vip, lambda v, want: as_float(v) == float(want))}
    finally:
        bed.procs.stop("probe-exporter")
        try:
            bed.events("cp1", "delete-lease", bed.envof("cp1")["KUBECONFIG"], "kube-system", BENCH_LEASE)
        except Exception as err:  # noqa: BLE001
            log(f"could not delete lease {BENCH_LEASE}: {err}")
    return res


def parse_micro_time(text):
    import datetime
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def all_kubevip_running(bed):
    return all(bed.kubevip_pids(n) for n in NODES) and bed.lease_holder().startswith("k8s-")


def failovers(bed, count, with_ksm=True):
    """Real failovers: SIGTERM to the leader's kube-vip (kubelet restarts it). The reference
    time is the new holder's acquireTime, written by the new leader (same machine clock)."""
    log(f"failovers: {count} x SIGTERM to the leading kube-vip")
    bound = count * 120 + 60
    pollers = {}
    for n in NODES:
        pollers[f"fo-leader-{n}"] = ("exporter", n, bed.poller(
            n, f"fo-leader-{n}", EXPORTER_PORT, "kubevip_is_leader", "lease=plndr-cp-lock", "-", bound, 0.05))
        pollers[f"fo-vip-{n}"] = ("vip", n, bed.poller(
            n, f"fo-vip-{n}", EXPORTER_PORT, "kubevip_vip_bound", "vip=10.10.30.10", "-", bound, 0.05))
    if with_ksm:
        pollers["fo-ksm"] = ("ksm", "cp1", bed.poller("cp1", "fo-ksm", KSM_PORT, "kube_lease_owner",
                                                      "lease=plndr-cp-lock", "lease_holder", bound, 0.05))
    events, hung = [], []
    try:
        for k in range(count):
            wait_for("three running kube-vip and a lease holder", lambda: all_kubevip_running(bed), 120, 0.5)
            time.sleep(3)
            old = bed.lease_holder()
            node = old.replace("k8s-", "")
            pids = bed.kubevip_pids(node)
            t_kill = time.time()
            for p in pids:
                os.kill(p, signal.SIGTERM)

            def new_holder():
                h = bed.lease_holder()
                return h if h.startswith("k8s-") and h != old else None
            try:
                new = wait_for("a new lease holder", new_holder, 15, 0.1)
            except TimeoutError:
                # kube-vip v1.0.4 sometimes hangs on SIGTERM and keeps renewing (see
                # kube-vip-facts.md); kubelet would SIGKILL it after the grace period, so do
                # that and count the event apart.
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                log(f"  failover {k + 1}: kube-vip on {node} ignored SIGTERM for 15 s; SIGKILLed")
                hung.append({"t_kill": t_kill, "node": node})
                wait_for("a new lease holder after SIGKILL", new_holder, 60, 0.1)
                continue
            acquired = parse_micro_time(bed.lease()["spec"]["acquireTime"])
            events.append({"t_kill": t_kill, "old": old, "new": new, "acquired": acquired})
            log(f"  failover {k + 1}: {old} -> {new}, lease taken {acquired - t_kill:.2f} s after the kill")
        time.sleep(3)
    finally:
        results = {}
        for name, (kind, n, (out, stop)) in pollers.items():
            results[name] = (kind, n, bed.finish_poller(name, out, stop))
    polls = {name: r for name, (_kind, _n, r) in results.items()}
    res = analyze_failovers(events, polls)
    res["hung_on_sigterm"] = hung
    return res


def analyze_failovers(events, polls):
    """Latencies of the failovers from the pollers' change lists. 'visible' uses the start of
    the first poll showing the change (a scrape shows the state as of its start); 'answered'
    uses its end, i.e. includes how long that scrape took."""
    out = {k: [] for k in ("exp_visible", "exp_answered", "ksm_visible", "ksm_answered",
                           "exp_after_kill", "vip_after_kill")}
    slow, blocked = [], 0
    for i, ev in enumerate(events):
        t_next = events[i + 1]["t_kill"] if i + 1 < len(events) else float("inf")
        new_node = ev["new"].replace("k8s-", "")

        def first(changes, pred):
            return next((c for c in changes if c[1] >= ev["t_kill"] and c[0] < t_next and pred(c[2])), None)
        c = first(polls[f"fo-leader-{new_node}"]["changes"], lambda v: as_float(v) == 1.0)
        # Was a slow scrape of the new leader's exporter in flight when the lease moved? Its
        # poller (like Prometheus) starts the next scrape only after it returns.
        if any(t <= ev["acquired"] <= t + d for t, d in polls[f"fo-leader-{new_node}"].get("slow_polls", [])):
            blocked += 1
        if c:
            out["exp_visible"].append(1000 * max(0.0, c[0] - ev["acquired"]))
            out["exp_answered"].append(1000 * (c[1] - ev["acquired"]))
            out["exp_after_kill"].append(1000 * (c[1] - ev["t_kill"]))
        if "fo-ksm" in polls:
            c = first(polls["fo-ksm"]["changes"], lambda v: v == ev["new"])
            if c:
                out["ksm_visible"].append(1000 * max(0.0, c[0] - ev["acquired"]))
                out["ksm_answered"].append(1000 * (c[1] - ev["acquired"]))
        c = first(polls[f"fo-vip-{new_node}"]["changes"], lambda v: as_float(v) == 1.0)
        if c:
            out["vip_after_kill"].append(1000 * (c[1] - ev["t_kill"]))
        # Scrapes of the full-config exporters that were slow around this failover.
        for name, p in polls.items():
            if name.startswith("fo-leader-"):
                slow += [d for t, d in p.get("slow_polls", []) if ev["t_kill"] - 1 <= t < ev["t_kill"] + 10]
    p50s = [p["poll_ms_p50"] for n, p in polls.items() if n.startswith("fo-leader-") and p["poll_ms_p50"]]
    res = {"events": events, "poll_interval_ms": 50, "slow_scrapes_s": sorted(slow),
           "blocked_by_slow_scrape": blocked, "healthz_probe": "background",
           "exporter_poll_ms_p50": sorted(p50s)[len(p50s) // 2] if p50s else None}
    for k, v in out.items():
        res[k + "_ms"] = summary(v)
    return res


def vip_probe(bed, seconds, out):
    """10 Hz HTTPS /healthz probe of the VIP from the lan namespace (a client's view)."""
    return bed.procs.start("vip-probe", [
        "/usr/bin/python3", os.path.join(LIB, "vip_probe.py"), "10.10.30.10", "6443",
        str(seconds), out, out + ".stop"], netns=f"{bed.name}-lan")


def upgrades(bed, reps):
    """Full rolling upgrades with `kvip-exporter upgrade`, followers first and the leader last,
    alternating v1.0.3 -> v1.0.4 and back; a 10 Hz probe of the VIP counts unavailability."""
    res = {"runs": []}
    state = os.path.join(bed.ctx.out_dir, "upgrade-state")
    versions = ["v1.0.4", "v1.0.3"]
    for rep in range(reps):
        to = versions[1] if bed.kubevip_version("cp1") == versions[0] else versions[0]
        wait_for("three running kube-vip and a lease holder", lambda: all_kubevip_running(bed), 180, 0.5)
        leader = bed.lease_holder().replace("k8s-", "")
        order = [n for n in NODES if n != leader] + [leader]
        out = os.path.join(bed.ctx.out_dir, f"vip-probe-{rep}.json")
        if os.path.exists(out + ".stop"):
            os.remove(out + ".stop")
        probe = vip_probe(bed, 900, out)
        time.sleep(3)
        steps, ok = [], True
        t0 = time.time()
        for node in order:
            e = bed.envof(node)
            for d in (f"{state}/{node}", f"{state}/{node}-backup"):
                os.makedirs(d, exist_ok=True)
            argv = ["exec", node, "--", bed.ctx.exporter, "upgrade", f"--to={to}",
                    f"--kubevip.manifest={e['KUBEVIP_MANIFEST']}", f"--kubeconfig={e['KUBECONFIG']}",
                    f"--node-name={e['NODE_NAME']}", f"--containerd-address={e['CONTAINERD_ADDRESS']}",
                    f"--state-dir={state}/{node}", f"--backup-dir={state}/{node}-backup",
                    "--output=json"]
            ts = time.time()
            was_leader = bed.lease_holder() == f"k8s-{node}"
            r = bed.tb(*argv, check=False, timeout=600)
            steps.append({"node": node, "rc": r.returncode, "t_start": ts, "seconds": time.time() - ts,
                          "was_leader": was_leader,
                          "stderr_tail": r.stderr[-600:] if r.returncode else ""})
            if r.returncode != 0:
                ok = False
                log(f"  upgrade on {node} to {to} exited {r.returncode}: {r.stderr[-300:]}")
                break
        total = time.time() - t0
        time.sleep(3)
        open(out + ".stop", "w").close()
        probe.wait(30)
        bed.procs.procs.pop("vip-probe", None)
        with open(out) as f:
            p = json.load(f)
        # Which node's step each gap fell in (the leader's restart is the expected one).
        for gap in p["gaps"]:
            gap.append(next((f"{st['node']}{' (leader)' if st['was_leader'] else ''}" for st in steps
                             if st["t_start"] <= gap[0] < st["t_start"] + st["seconds"]), "between steps"))
        res["runs"].append({"to": to, "order": order, "ok": ok, "seconds": total, "steps": steps,
                            "unavailable_s": p["unavailable_s"], "longest_gap_s": p["longest_gap_s"],
                            "probes": p["probes"], "failed": p["failed"], "gaps": p["gaps"]})
        log(f"  upgrade {rep + 1}/{reps} to {to}: ok={ok}, {total:.0f} s, VIP unavailable "
            f"{p['unavailable_s']:.1f} s")
        if not ok:
            break
    return res


def probed(bed, label, action):
    """Runs action() with the 10 Hz VIP probe around it (3 s before and after); returns
    (action's result, the probe's figures)."""
    out = os.path.join(bed.ctx.out_dir, f"vip-probe-{label}.json")
    if os.path.exists(out + ".stop"):
        os.remove(out + ".stop")
    probe = vip_probe(bed, 900, out)
    time.sleep(3)
    try:
        result = action()
        time.sleep(3)
    finally:
        open(out + ".stop", "w").close()
        probe.wait(30)
        bed.procs.procs.pop("vip-probe", None)
    with open(out) as f:
        return result, json.load(f)


def rollouts(bed, reps, floor_reps=3):
    """`kvip-exporter rollout --to vX` from cp1, alternating v1.0.3 -> v1.0.4 and back, with the
    10 Hz VIP probe; beside it the floor kube-vip's own hand-over sets: the same probe around
    a SIGTERM to the leading kube-vip (what the kubelet sends when the leader's manifest
    changes), without any tool of ours."""
    res = {"floor": [], "runs": []}
    image = bed.tb("push-exporter", bed.ctx.exporter, timeout=600).stdout.strip()
    log(f"rollouts: exporter image {image}; floor: {floor_reps} x SIGTERM to the leader")
    for k in range(floor_reps):
        wait_for("three running kube-vip and a lease holder", lambda: all_kubevip_running(bed), 180, 0.5)
        time.sleep(3)
        old = bed.lease_holder()

        def handover():
            for pid in bed.kubevip_pids(old.replace("k8s-", "")):
                os.kill(pid, signal.SIGTERM)
            wait_for("a new lease holder", lambda: bed.lease_holder() not in ("", old), 30, 0.1)
        _, p = probed(bed, f"floor-{k}", handover)
        res["floor"].append({"unavailable_s": p["unavailable_s"], "longest_gap_s": p["longest_gap_s"],
                             "probes": p["probes"], "failed": p["failed"]})
        log(f"  hand-over {k + 1}: VIP unavailable {p['unavailable_s']:.2f} s")
    versions = ["v1.0.4", "v1.0.3"]
    for rep in range(reps):
        to = versions[1] if bed.kubevip_version("cp1") == versions[0] else versions[0]
        wait_for("three running kube-vip and a lease holder", lambda: all_kubevip_running(bed), 180, 0.5)
        leader = bed.lease_holder().replace("k8s-", "")
        t0 = time.time()

        def run_rollout():
            return bed.tb("exec", "cp1", "--", bed.ctx.exporter, "rollout", f"--to={to}",
                          f"--image={image}", "--runtime=crictl", "--output=json",
                          check=False, timeout=1200)
        r, p = probed(bed, f"rollout-{rep}", run_rollout)
        try:
            report = json.loads(r.stdout)
        except json.JSONDecodeError:
            report = {"result": "unparsed", "message": r.stderr[-600:]}
        record = json.loads(json.loads(bed.tb("exec", "cp1", "--", "kubectl", "-n", "kube-system", "get",
                                              "configmap", "kvip-exporter-rollout", "-o", "json",
                                              check=False).stdout or "{}").get("data", {})
                            .get("record.json", "{}"))
        # Each node's step window from the record (when it ended) and the report (how long).
        windows = []
        took = {c["name"].removeprefix("node "): c.get("seconds", -1) for c in report.get("nodes", [])}
        for n in record.get("nodes", []):
            if n["node"] in took and took[n["node"]] > 0:
                windows.append((n["node"], n["at"] - took[n["node"]], n["at"]))
        for gap in p["gaps"]:
            gap.append(next((f"{w[0]}{' (leader)' if w[0] == 'k8s-' + leader else ''}"
                             for w in windows if w[1] <= gap[0] < w[2] + 1), "outside the node steps"))
        res["runs"].append({"to": to, "leader": leader, "rc": r.returncode, "result": report.get("result"),
                            "seconds": time.time() - t0 - 6, "steps": took,
                            "unavailable_s": p["unavailable_s"], "longest_gap_s": p["longest_gap_s"],
                            "probes": p["probes"], "failed": p["failed"], "gaps": p["gaps"]})
        log(f"  rollout {rep + 1}/{reps} to {to}: exit {r.returncode} ({report.get('result')}), "
            f"VIP unavailable {p['unavailable_s']:.2f} s")
        if r.returncode != 0:
            log(f"  {report.get('message')}")
            break
    return res


class Recorded(dict):
    """A dict that hands itself to on_change after every new entry: a run that fails later
    keeps what it measured so far."""

    def __init__(self, on_change, **kw):
        super().__init__(**kw)
        self.on_change = on_change

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if self.on_change:
            self.on_change(dict(self))


def run(ctx, phases, loopback_hook=None, on_change=None):
    bed = Testbed(ctx)
    results = Recorded(on_change, testbed=bed.name)
    started = False
    try:
        if not bed.is_up():
            bed.up()
            started = True
        wait_for("three running kube-vip and a lease holder", lambda: all_kubevip_running(bed), 180, 0.5)
        window = ctx.api_window_seconds
        if "apiload" in phases:
            results["api_baseline"] = api_window(bed, "baseline (testbed alone)", window)
        exporter_pids = bed.start_exporters()
        if "apiload" in phases:
            results["api_exporters"] = api_window(bed, "3 exporters, each scraped at 1 Hz", window,
                                                  [(n, EXPORTER_PORT) for n in NODES])
        ksm = None
        try:
            ksm = bed.start_ksm()
        except Exception as err:  # noqa: BLE001 - report and carry on without it
            log(f"kube-state-metrics not available: {err}")
            results["ksm_error"] = str(err)
        if ksm and "apiload" in phases:
            results["api_both"] = api_window(bed, "3 exporters + kube-state-metrics, 1 Hz scrapes",
                                              window, [(n, EXPORTER_PORT) for n in NODES] + [("cp1", KSM_PORT)])
        if loopback_hook:
            extra = {f"kvip-exporter (testbed {n}, all collectors)": [exporter_pids[n]] for n in NODES}
            for n in NODES:
                extra[f"kube-vip {n} (testbed)"] = bed.kubevip_pids(n)
            if ksm:
                extra["kube-state-metrics (leases only)"] = [ksm.pid]
            loopback_hook(extra)
        if "detect" in phases:
            results["detection"] = detection(bed, ctx.events, ksm is not None)
        if "failover" in phases:
            a = bed.api_counts()
            results["failover"] = failovers(bed, ctx.failovers, ksm is not None)
            b = bed.api_counts()
            d, elapsed = delta(a, b)
            results["api_failover"] = {"label": f"{ctx.failovers} failovers", "seconds": elapsed,
                                       "delta": d, "failovers": ctx.failovers}
        if "upgrade" in phases or "rollout" in phases:
            bed.procs.stop("kube-state-metrics")
        if "upgrade" in phases:
            results["upgrade"] = upgrades(bed, ctx.upgrade_reps)
        if "rollout" in phases:
            results["rollout"] = rollouts(bed, ctx.rollout_reps)
    finally:
        bed.procs.stop_all()
        if started and not ctx.keep_testbed:
            log(f"testbed {bed.name}: down")
            bed.tb("down", check=False, timeout=600)
    return dict(results)
