"""Instructions per scrape with valgrind --tool=callgrind: repeatable on a noisy machine.

Two runs of the same process under callgrind, in the loopback namespace: one that serves
N sequential scrapes after a warm-up, and one that sits idle for as long after the same
warm-up. (instructions(N scrapes) - instructions(idle)) / N is the cost of one scrape, with
start-up, shutdown and timers cancelled out. The scrape run's profile says what dominates.
"""

import os
import re
import subprocess
import time

from common import http_ok_in_netns, log, wait_for

WARMUP = 20


def totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise ValueError(f"{path}: no totals line")


def annotate(path, inclusive):
    res = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                          "--threshold=99", path], capture_output=True, text=True)
    rows = []
    for line in res.stdout.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append({"ir": int(m.group(1).replace(",", "")), "percent": float(m.group(2)),
                         "function": m.group(3).strip()})
    return rows, res.stdout


def one_run(bed, name, argv, port, scrapes, idle_seconds, out_file, env=None, accept_encoding=None):
    """Runs argv under callgrind; warm-up, then `scrapes` scrapes or an idle wait."""
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
          "--dump-instr=no", "--vgdb=no"]
    bed.procs.start(name, vg + argv, netns=bed.netns.name, env=env)
    try:
        wait_for(f"{name} under valgrind",
                 lambda: http_ok_in_netns(bed.netns.name, f"http://127.0.0.1:{port}/metrics", 20),
                 180, interval=1)
        # WARMUP requests, all due at once (rate x seconds = WARMUP), one connection.
        bed.fixed_rate(port, 1000, WARMUP / 1000, out_file + ".warmup.txt", connections=1, grace=300)
        t0 = time.monotonic()
        if scrapes:
            r = bed.fixed_rate(port, 10000, scrapes / 10000, out_file + ".scrapes.txt",
                               connections=1, grace=600, accept_encoding=accept_encoding)
            if r["ok"] != scrapes:
                raise RuntimeError(f"{name}: {r['ok']} of {scrapes} scrapes succeeded")
        else:
            time.sleep(idle_seconds)
        return time.monotonic() - t0
    finally:
        bed.procs.stop(name, timeout=60)


def measure(bed, label, argv, port, scrapes, env=None, accept_encoding=None):
    out_dir = os.path.join(bed.ctx.out_dir, "callgrind")
    os.makedirs(out_dir, exist_ok=True)
    busy_file = os.path.join(out_dir, f"{label}.scrapes.out")
    idle_file = os.path.join(out_dir, f"{label}.idle.out")
    for f in (busy_file, idle_file):
        if os.path.exists(f):
            os.remove(f)
    log(f"callgrind: {label}, {scrapes} scrapes")
    busy_s = one_run(bed, f"cg-{label}-busy", argv, port, scrapes, 0, busy_file, env, accept_encoding)
    log(f"callgrind: {label}, idle {busy_s:.1f} s")
    one_run(bed, f"cg-{label}-idle", argv, port, 0, busy_s, idle_file, env)
    busy, idle = totals(busy_file), totals(idle_file)
    exclusive, excl_text = annotate(busy_file, False)
    inclusive, incl_text = annotate(busy_file, True)
    with open(busy_file + ".annotate.txt", "w") as f:
        f.write(excl_text + "\n\n" + incl_text)
    return {"scrapes": scrapes, "ir_busy": busy, "ir_idle": idle,
            "ir_per_scrape": (busy - idle) / scrapes, "busy_seconds": busy_s,
            "top_exclusive": exclusive[:15], "top_inclusive": inclusive[:25]}


def run(bed, kvip_argv_fn, ne_argv, standin_argv, scrapes=300):
    """bed: a running loopback.LoopbackBed (its stand-in answers the kube-vip scrape)."""
    results = {}
    port = 9113
    results["kvip-exporter"] = measure(bed, "kvip", kvip_argv_fn(port), port, scrapes)
    # Go's asynchronous preemption signals trip a callgrind assertion
    # (vgCallgrind_post_signal); without them node_exporter runs fine under it.
    go_env = dict(os.environ, GODEBUG="asyncpreemptoff=1")
    for label, name, argv, encoding in (
            ("node_exporter", "node_exporter (minimal)", ne_argv(9101), None),
            # What one kvip-exporter scrape costs kube-vip: its scrape asks for the plain text
            # format (no Accept-Encoding); gzip, which it asked for before, for comparison.
            ("standin_plain", "stand-in (kube-vip's shape), plain, as kvip-exporter asks", standin_argv(9102),
             None),
            ("standin_gzip", "stand-in (kube-vip's shape), gzip", standin_argv(9102), "gzip")):
        try:
            results[name] = measure(bed, label, argv, int(argv[-1].rsplit(":", 1)[1]), scrapes,
                                    go_env, encoding)
        except Exception as err:  # noqa: BLE001 - Go under valgrind may not run; say so
            results[name] = {"error": str(err)}
    return results
