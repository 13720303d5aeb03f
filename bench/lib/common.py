"""Shared pieces of bench/run: processes in network namespaces, /proc sampling, HTTP, stats.

Everything that sends a packet runs inside a network namespace (a private one for the
loopback benchmarks, the testbed's node namespaces for the rest): nothing here opens a
socket in the root namespace.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg):
    print(f"bench: {msg}", flush=True)


def wait_for(what, predicate, timeout, interval=0.1):
    """Polls predicate until it returns a truthy value; raises after the deadline."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as err:  # noqa: BLE001 - we report the last one on timeout
            last_error = err
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}"
                       + (f" (last error: {last_error})" if last_error else ""))


class Processes:
    """Owns every process bench starts; stop_all() ends them by pid (TERM, then KILL)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.procs = {}
        os.makedirs(log_dir, exist_ok=True)

    def start(self, name, argv, netns=None, uts=None, env=None):
        prefix = []
        if netns:
            # nsenter execs in place: the pid we get is the daemon's own.
            prefix = ["nsenter", f"--net=/run/netns/{netns}"]
            if uts:
                prefix.append(f"--uts={uts}")
            prefix.append("--")
        out = open(os.path.join(self.log_dir, f"{name}.log"), "wb")
        proc = subprocess.Popen(prefix + list(argv), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        out.close()
        self.procs[name] = proc
        return proc

    def stop(self, name, timeout=5):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)


class Netns:
    """A private network namespace with lo up (and optionally a dummy eno1 with an address)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run(["ip", "link", "set", "lo", "up"])
        return self

    def run(self, argv, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name] + argv, check=True, **kw)

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


# ---------------------------------------------------------------- /proc sampling

def proc_status_kb(pid, field):
    """A "<field>: N kB" line of /proc/PID/status, as N (0 when the kernel has no such line)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def proc_rss_kb(pid):
    return proc_status_kb(pid, "VmRSS")


def proc_rss_anon_kb(pid):
    """Private (anonymous) resident memory: RSS without the file-backed pages of shared
    libraries and the binary, which other processes may share."""
    return proc_status_kb(pid, "RssAnon")


def proc_rss_by_mapping(pid):
    """{mapped file or [anon] -> resident KiB} from /proc/PID/smaps."""
    out, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                name = parts[5] if len(parts) > 5 else "[anon]"
            elif first == "Rss:":
                out[name] = out.get(name, 0) + int(line.split()[1])
    return {k: v for k, v in out.items() if v}


def proc_cpu_seconds(pid):
    """utime+stime of the whole process (exited threads included), 1/CLK_TCK resolution."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_seconds_fine(pid):
    """CPU time of the live threads in nanoseconds (schedstat), for idle windows where the
    10 ms ticks of utime+stime read as zero; threads that exit in between are not counted."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def proc_threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def tree_pids(pid):
    """pid and all its descendants (a container's processes under its shim, say)."""
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for child in f.read().split():
                out += tree_pids(int(child))
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- HTTP in a netns

class KeepAliveGet:
    """A keep-alive HTTP GET client; runs in whatever netns the calling process is in."""

    def __init__(self, host, port, path="/metrics", timeout=5):
        self.host, self.port, self.path, self.timeout = host, port, path, timeout
        self.conn = None

    def get(self):
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request("GET", self.path)
                resp = self.conn.getresponse()
                body = resp.read()
                return resp.status, body
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def in_netns_python(netns, script_path, args, uts=None, timeout=None, env=None):
    """Runs a bench helper script inside a netns and returns its JSON output."""
    argv = ["nsenter", f"--net=/run/netns/{netns}"]
    if uts:
        argv.append(f"--uts={uts}")
    argv += ["--", "/usr/bin/python3", script_path] + [str(a) for a in args]
    res = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout, env=env)
    if res.stderr.strip():
        for line in res.stderr.strip().splitlines()[-20:]:
            log(f"  {os.path.basename(script_path)}: {line}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def http_ok_in_netns(netns, url, timeout=3):
    res = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "--", "curl", "-fsS", "-o",
                          "/dev/null", "-m", str(timeout), url], capture_output=True)
    return res.returncode == 0


def curl_in_netns(netns, url, timeout=5):
    res = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "--", "curl", "-fsS", "-m",
                          str(timeout), url], capture_output=True, text=True, check=True)
    return res.stdout


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def parse_samples(text):
    """[(name, labels dict, value)] of a text-format body (enough for the bench)."""
    out = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(3))))
        except ValueError:
            pass
    return out


# ---------------------------------------------------------------- statistics

def percentile(values, q):
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    if not values:
        return float("nan")
    v = sorted(values)
    pos = (len(v) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def summary(values):
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "max": max(values), "min": min(values)}


# ---------------------------------------------------------------- machine details

def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine():
    mem = subprocess.run(["free", "-m"], capture_output=True, text=True).stdout.strip()
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": int(subprocess.run(["nproc"], capture_output=True, text=True).stdout),
        "cpu": cpu_model,
        "kernel": os.uname().release,
        "free": mem,
        "loadavg_start": loadavg(),
    }


def save_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def load_json(path):
    with open(path) as f:
        return json.load(f)
