"""lease_watch against the testbed's real kube-apiservers (tools/testbed, instance
$KVIP_TESTBED, default kvip).

One kvip-exporter per node runs INSIDE that node's network namespace, with the node's
admin.conf (its server is the node's own API server) and --node-name k8s-cpN: the identity
kube-vip writes as holderIdentity (the generated manifest sets vip_nodename from
spec.nodeName). The faults are real: a killed kube-vip, a deleted Lease, a restarted API
server, an etcd compaction, RBAC that denies watch, a rotated token file.
"""
import base64
import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from full_exporter import LEASE as LABELS  # the series the fault suite reads, named once
from full_exporter import IS_LEADER, RECONNECTS, WATCH_UP, holder_info, success
from testbed_fixture import LEASE_DURATION, NODES, cluster, testbed, wait_for  # noqa: F401
from testbed_fixture import _shared_helpers

exporter_binary = _shared_helpers().exporter_binary
parse_metrics = _shared_helpers().parse_metrics

PRESENT = f"kubevip_lease_present{{{LABELS}}}"
AGE = f"kubevip_lease_age_seconds{{{LABELS}}}"


def events(kind):
    return f'kubevip_lease_events_total{{{LABELS},type="{kind}"}}'


_ports = itertools.count(19300)


class NodeExporter:
    """kvip-exporter in a testbed node's network namespace, log in a file."""

    def __init__(self, tb, node, log_path, kubeconfig=None, extra=()):
        self.tb, self.node = tb, node
        self.env = tb.env(node)
        self.netns = self.env["NETNS"]
        self.port = next(_ports)
        self.log_path = log_path
        argv = ["ip", "netns", "exec", self.netns, str(exporter_binary()),
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--kubevip.manifest={self.env['KUBEVIP_MANIFEST']}",
                f"--kubeconfig={kubeconfig or self.env['KUBECONFIG']}",
                f"--node-name={self.env['NODE_NAME']}",
                "--no-kubevip.log", *extra]
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.scrape_or_none() is not None, timeout=20,
                 what=f"exporter on {node} serving")

    def scrape_or_none(self):
        if self.proc.poll() is not None:
            pytest.fail(f"exporter on {self.node} exited with {self.proc.returncode}:\n"
                        f"{self.log_text()}")
        r = subprocess.run(["ip", "netns", "exec", self.netns, "curl", "-sf", "--max-time", "5",
                            f"http://127.0.0.1:{self.port}/metrics"],
                           capture_output=True, text=True)
        return parse_metrics(r.stdout) if r.returncode == 0 else None

    def metrics(self):
        samples = self.scrape_or_none()
        assert samples is not None, f"scrape of the exporter on {self.node} failed"
        return samples

    def value(self, key):
        return self.metrics().get(key)

    def log_text(self):
        return Path(self.log_path).read_text()

    def stop(self):
        # A sanitizer report (leak, UB) at exit fails the test that started this exporter.
        _shared_helpers().stop_logged(self.proc, self.log, timeout=15)


@pytest.fixture
def start_exporter(cluster, tmp_path):
    started = []

    def start(node, **kw):
        exporter = NodeExporter(cluster, node, tmp_path / f"{node}-{len(started)}.log", **kw)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()


def leader_view(exporters):
    """{node: is_leader} over all exporters."""
    return {e.node: e.value(IS_LEADER) for e in exporters}


def agrees_with_holder(tb, exporters):
    """The node the API names as holder reads 1, every other 0, and all agree on holder."""
    holder = tb.lease_holder()
    if not holder:
        return False
    view = leader_view(exporters)
    expected = {e.node: (1 if f"k8s-{e.node}" == holder else 0) for e in exporters}
    infos = all(e.value(holder_info(holder)) == 1 for e in exporters)
    return view == expected and infos and holder


def test_holder_is_leader_on_exactly_one_node(start_exporter, cluster):
    exporters = [start_exporter(n) for n in NODES]
    holder = wait_for(lambda: agrees_with_holder(cluster, exporters), timeout=15,
                      what="is_leader 1 exactly on the holder's node")
    for e in exporters:
        samples = e.metrics()
        assert samples[WATCH_UP] == 1
        assert samples[PRESENT] == 1
        assert samples[f"kubevip_lease_duration_seconds{{{LABELS}}}"] == LEASE_DURATION
        assert 0 <= samples[AGE] < LEASE_DURATION
        assert samples[success("lease_watch")] == 1
    # kube-vip renews every second or so: MODIFIED events keep arriving.
    first = exporters[0].value(events("MODIFIED"))
    wait_for(lambda: exporters[0].value(events("MODIFIED")) > first, timeout=10,
             what="MODIFIED events from renewals")
    print(f"holder {holder}: is_leader {leader_view(exporters)}")


def test_killing_the_leaders_kube_vip_moves_is_leader(start_exporter, cluster):
    exporters = {n: start_exporter(n) for n in NODES}
    wait_for(lambda: agrees_with_holder(cluster, exporters.values()), timeout=15,
             what="a settled leader view")
    old = cluster.leader()
    start = time.monotonic()
    cluster.tool("fault", old, "kill-kubevip")
    # The old leader's exporter computes expiry at scrape time: 0 within the lease duration
    # of the last renewal, even though nothing tells it the holder died.
    wait_for(lambda: exporters[old].value(IS_LEADER) == 0, timeout=LEASE_DURATION + 1,
             interval=0.1, what=f"is_leader 0 on the old leader {old}")
    dropped = time.monotonic() - start
    assert exporters[old].value(f"kubevip_lease_expired{{{LABELS}}}") == 1 or \
        cluster.lease_holder() != f"k8s-{old}"
    new = wait_for(lambda: next((n for n, e in exporters.items()
                                 if n != old and e.value(IS_LEADER) == 1), None),
                   timeout=2 * LEASE_DURATION + 5, interval=0.1,
                   what="is_leader 1 on a new node")
    took_over = time.monotonic() - start
    assert cluster.lease_holder() == f"k8s-{new}"
    assert sum(e.value(IS_LEADER) for e in exporters.values()) == 1
    print(f"kill-kubevip on {old}: its is_leader 0 after {dropped:.1f}s, "
          f"{new} is_leader 1 after {took_over:.1f}s")


def test_deleting_the_lease_shows_absent_then_the_reelected_holder(start_exporter, cluster):
    exporters = [start_exporter(n) for n in NODES]
    wait_for(lambda: agrees_with_holder(cluster, exporters), timeout=15, what="a settled view")
    deleted_before = exporters[0].value(events("DELETED"))
    # Frozen kube-vips cannot recreate the Lease, so its absence is observable (the seed's
    # rollback scenario B: the lease deleted by hand).
    for n in NODES:
        cluster.tool("fault", n, "freeze-kubevip")
    cluster.kubectl("-n", "kube-system", "delete", "lease", "plndr-cp-lock")
    for e in exporters:
        wait_for(lambda: e.value(PRESENT) == 0 and e.value(IS_LEADER) == 0, timeout=10,
                 what=f"lease_present 0 and is_leader 0 on {e.node}")
        assert e.value(events("DELETED")) >= deleted_before + 1
        assert not any(k.startswith("kubevip_lease_holder_info") for k in e.metrics())
    cluster.tool("heal")
    holder = wait_for(lambda: agrees_with_holder(cluster, exporters), timeout=30,
                      what="the re-elected holder, is_leader 1 on its node only")
    assert all(e.value(PRESENT) == 1 for e in exporters)
    assert all(e.value(events("ADDED")) >= 1 for e in exporters)
    print(f"lease deleted; re-elected holder {holder}")


# --- restarting a node's API server -----------------------------------------------------

def process_gone(pid):
    """True once pid has exited (a zombie counts: it is reaped here if it is our child)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


class ApiServer:
    """The testbed's kube-apiserver of one node, stopped and started again exactly as the
    testbed started it (argv, environment, namespaces, pid file, log)."""

    def __init__(self, tb, node):
        env = tb.env(node)
        self.state = Path(env["KVIP_NODE_ROOT"]).parent
        self.node, self.netns = node, env["NETNS"]
        self.pid_file = self.state / "run" / f"apiserver-{node}.pid"
        self.url = f"https://{env['NODE_IP']}:6443/readyz"
        self.tb = tb

    def stop(self):
        pid = int(self.pid_file.read_text())
        self.argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().rstrip(b"\0").split(b"\0")
        self.environ = dict(kv.decode().split("=", 1) for kv in environ if b"=" in kv)
        # As a supervisor does (and tools/testbed down): SIGTERM, then SIGKILL after 15 s.
        # kube-apiserver stops listening at once but holds open watch streams until its own
        # 60 s shutdown deadline.
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while not process_gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not process_gone(pid):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: process_gone(pid), timeout=30,
                 what=f"kube-apiserver on {self.node} to exit")

    def start(self):
        log = open(self.state / "log" / f"apiserver-{self.node}.log", "ab")
        # setsid + nsenter exec in place, as tools/testbed's start_daemon does.
        self.proc = proc = subprocess.Popen(
            ["setsid", "nsenter", f"--net=/run/netns/{self.netns}",
             f"--uts={self.state / 'run' / f'{self.node}.uts'}", "--", *self.argv],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.environ)
        self.pid_file.write_text(f"{proc.pid}\n")
        wait_for(lambda: self.tb.curl(self.node, self.url)[1] == "ok", timeout=180, interval=0.5,
                 what=f"kube-apiserver on {self.node} ready again")


@pytest.fixture
def apiserver(cluster):
    """A follower's API server (its restart then causes no failover); restarted if a test
    left it stopped."""
    node = next(n for n in NODES if n != cluster.leader())
    server = ApiServer(cluster, node)
    yield server
    if not server.pid_file.exists() or process_gone(int(server.pid_file.read_text())):
        server.start()


def test_restarting_the_api_server_reconnects_the_watch(start_exporter, cluster, apiserver):
    exporter = start_exporter(apiserver.node)
    wait_for(lambda: exporter.value(WATCH_UP) == 1, timeout=15, what="watch up")
    reconnects = exporter.value(RECONNECTS)
    apiserver.stop()
    wait_for(lambda: exporter.value(WATCH_UP) == 0, timeout=15, what="watch_up 0")
    # Down, the exporter keeps the last known lease and lets it age.
    age_down = exporter.value(AGE)
    wait_for(lambda: exporter.value(AGE) > age_down + 1, timeout=10, what="the lease age growing")
    assert exporter.value(IS_LEADER) == 0  # a follower, and it stays one
    apiserver.start()
    wait_for(lambda: exporter.value(WATCH_UP) == 1, timeout=60, what="watch_up 1 again")
    assert exporter.value(RECONNECTS) >= reconnects + 1
    # No stale leader: the view matches the API after the reconnect.
    wait_for(lambda: exporter.value(IS_LEADER) ==
             (1 if cluster.lease_holder() == f"k8s-{apiserver.node}" else 0)
             and exporter.value(AGE) < LEASE_DURATION,
             timeout=15, what="a fresh lease view")
    assert "lease watch re-established" in exporter.log_text()


def test_a_frozen_api_server_is_detected_as_a_stalled_stream(start_exporter, cluster, apiserver):
    # SIGSTOP keeps the TCP connection open and silent: only the stall timer (the server's
    # timeoutSeconds, 60 s, plus a 10 s margin) can tell.
    exporter = start_exporter(apiserver.node)
    wait_for(lambda: exporter.value(WATCH_UP) == 1, timeout=15, what="watch up")
    reconnects = exporter.value(RECONNECTS)
    cluster.tool("fault", apiserver.node, "freeze-apiserver")
    wait_for(lambda: exporter.value(WATCH_UP) == 0, timeout=90, interval=0.5,
             what="watch_up 0 once the stream stalled")
    assert "stalled: no bytes for 70s" in exporter.log_text()
    assert exporter.value(AGE) > 60  # the last known lease aged honestly meanwhile
    cluster.tool("heal", apiserver.node)
    wait_for(lambda: exporter.value(WATCH_UP) == 1, timeout=60, what="watch up after the thaw")
    assert exporter.value(RECONNECTS) >= reconnects + 1
    wait_for(lambda: exporter.value(AGE) < LEASE_DURATION, timeout=15, what="a fresh lease")


def etcd_revision(tb):
    out = tb.exec("cp1", "etcdctl", "endpoint", "status", "-w", "json").stdout
    return int(json.loads(out)[0]["Status"]["header"]["revision"])


def test_compaction_past_the_watch_resource_version_relists(start_exporter, cluster, apiserver):
    exporter = start_exporter(apiserver.node)
    wait_for(lambda: exporter.value(WATCH_UP) == 1, timeout=15, what="watch up")
    # Stop the exporter's API server so its watch stays at an old resourceVersion while
    # kube-vip's renewals (through the other API servers) move etcd on; then compact
    # etcd past it. The restarted server cannot resume from there: 410 Gone.
    apiserver.stop()
    wait_for(lambda: exporter.value(WATCH_UP) == 0, timeout=15, what="watch_up 0")
    before = etcd_revision(cluster)
    wait_for(lambda: etcd_revision(cluster) > before + 3, timeout=30, what="etcd moving on")
    revision = etcd_revision(cluster)
    cluster.exec("cp1", "etcdctl", "compact", str(revision))
    apiserver.start()
    wait_for(lambda: "relisting" in exporter.log_text(), timeout=90,
             what="a 410 Gone handled by a relist")
    wait_for(lambda: exporter.value(WATCH_UP) == 1, timeout=60, what="watch_up 1 after the relist")
    wait_for(lambda: exporter.value(AGE) < LEASE_DURATION, timeout=15, what="a fresh lease")
    assert exporter.value(PRESENT) == 1
    print(f"compacted etcd at {revision}; "
          f"ERROR events {exporter.value(events('ERROR'))}, "
          f"reconnects {exporter.value(RECONNECTS)}")


# --- credentials --------------------------------------------------------------------------

@pytest.fixture
def rbac(cluster, tmp_path):
    """Service accounts with chosen rights on leases in kube-system, and kubeconfigs for
    them (cp1's API server, token from a file). Removed afterwards."""
    created = []

    def account(name, verbs):
        ns = ["-n", "kube-system"]
        for kind in ("rolebinding", "role", "serviceaccount"):  # leftovers of a killed run
            cluster.kubectl(*ns, "delete", kind, name, "--ignore-not-found")
        cluster.kubectl(*ns, "create", "serviceaccount", name)
        created.append(("serviceaccount", name))
        if verbs:
            cluster.kubectl(*ns, "create", "role", name, f"--verb={','.join(verbs)}",
                            "--resource=leases.coordination.k8s.io")
            cluster.kubectl(*ns, "create", "rolebinding", name, f"--role={name}",
                            f"--serviceaccount=kube-system:{name}")
            created.extend([("role", name), ("rolebinding", name)])
        return name

    def token(name):
        return cluster.kubectl("-n", "kube-system", "create", "token", name,
                               "--duration=1h").strip()

    def kubeconfig(name, token_file):
        env = cluster.env("cp1")
        ca = Path(env["KVIP_NODE_ROOT"]) / "etc/kubernetes/pki/ca.crt"
        config = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "testbed", "cluster": {
                "server": f"https://{env['NODE_IP']}:6443",
                "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode()}}],
            "users": [{"name": name, "user": {"tokenFile": str(token_file)}}],
            "contexts": [{"name": name, "context": {"cluster": "testbed", "user": name}}],
            "current-context": name,
        }
        path = tmp_path / f"{name}.kubeconfig"
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    account.token, account.kubeconfig = token, kubeconfig
    yield account
    for kind, name in reversed(created):
        cluster.kubectl("-n", "kube-system", "delete", kind, name, "--ignore-not-found")


def write_token(path, token):
    """Replaces the token file atomically, as the kubelet does for projected tokens."""
    tmp = path.with_suffix(".new")
    tmp.write_text(token)
    os.replace(tmp, path)


def test_a_user_that_may_not_watch_gets_a_clear_403(start_exporter, rbac, tmp_path):
    list_only = rbac("kvip-test-list-only", ["get", "list"])
    nothing = rbac("kvip-test-no-rights", [])
    exporters = {}
    for name in (list_only, nothing):
        token_file = tmp_path / f"{name}.token"
        write_token(token_file, rbac.token(name))
        exporters[name] = start_exporter("cp1", kubeconfig=rbac.kubeconfig(name, token_file))

    denied_watch = (f'user \\"{list_only}\\" ({tmp_path}/{list_only}.kubeconfig) may not watch '
                    "leases in namespace kube-system (403 Forbidden)")
    denied_list = (f'user \\"{nothing}\\" ({tmp_path}/{nothing}.kubeconfig) may not list '
                   "leases in namespace kube-system (403 Forbidden)")
    wait_for(lambda: denied_watch in exporters[list_only].log_text(), timeout=15,
             what="a 403 log naming the watch verb")
    wait_for(lambda: denied_list in exporters[nothing].log_text(), timeout=15,
             what="a 403 log naming the list verb")
    for e in exporters.values():
        assert "cannot" in e.log_text() and "system:serviceaccount:kube-system:" in e.log_text()
        samples = e.metrics()
        assert samples[WATCH_UP] == 0
        assert samples[success("lease_watch")] == 0
        for collector in ("process", "kubevip_scrape", "vip_healthz"):
            assert samples[success(collector)] == 1, collector
    # Listing was allowed to one of them: it knows the lease, but not whether it is current.
    assert exporters[list_only].value(PRESENT) == 1
    assert PRESENT not in exporters[nothing].metrics()
    assert IS_LEADER not in exporters[nothing].metrics()


def test_a_rotated_token_file_is_used_without_restart(start_exporter, rbac, tmp_path):
    watcher = rbac("kvip-test-watcher", ["get", "list", "watch"])
    token_file = tmp_path / "token"
    write_token(token_file, "not-a-valid-token")
    exporter = start_exporter("cp1", kubeconfig=rbac.kubeconfig(watcher, token_file))
    wait_for(lambda: "401 Unauthorized" in exporter.log_text(), timeout=15,
             what="the bad token rejected")
    assert f"the token in {token_file} is expired or invalid" in exporter.log_text()
    assert exporter.value(WATCH_UP) == 0
    pid = exporter.proc.pid
    write_token(token_file, rbac.token(watcher))
    # The next retry (backoff capped at 30 s) reads the new token.
    wait_for(lambda: exporter.value(WATCH_UP) == 1, timeout=45, what="watch up with the new token")
    assert exporter.proc.pid == pid and exporter.proc.poll() is None
    assert exporter.value(PRESENT) == 1
