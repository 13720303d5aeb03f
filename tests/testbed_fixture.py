"""Session fixture `testbed`: a running 3-node kube-vip control plane (tools/testbed).

Use it from any test directory with, in that directory's conftest.py or test module:

    from testbed_fixture import testbed  # noqa: F401  (the fixture)

It brings the instance named by $KVIP_TESTBED (default kvip) up if it is not up, leaves
it up if it was already up, and takes it down at the end only if it brought it up
(KVIP_TESTBED_KEEP=1 keeps it up anyway). Every probe of a testbed address runs inside
a testbed network namespace (`tools/testbed exec NODE -- ...`).
"""
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "testbed"
PEERS = REPO / "tools" / "peers"
NODES = ("cp1", "cp2", "cp3")
VIP = "10.10.30.10"
LEASE_DURATION = 5.0  # the generated manifest's vip_leaseduration


def _shared_helpers():
    """tests/conftest.py's helpers, loaded by path: `import conftest` would give whichever
    conftest.py pytest loaded last."""
    name = "kvip_tests_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conftest.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


wait_for = _shared_helpers().wait_for


def holds_for(condition, seconds, interval=0.1, what="condition"):
    """Asserts condition() stays truthy for `seconds` (a state that must persist)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        assert value, f"{what} stopped holding: {value!r}"
        time.sleep(interval)


class Testbed:
    """Thin wrapper over tools/testbed for one instance."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, name):
        self.name = name
        self.environ = dict(os.environ, KVIP_TESTBED=name)

    def tool(self, *args, check=True, timeout=600):
        return subprocess.run([str(TOOL), *map(str, args)], env=self.environ, check=check,
                              capture_output=True, text=True, timeout=timeout)

    def is_up(self):
        return self.tool("is-up", check=False).returncode == 0

    def env(self, node):
        """`tools/testbed env NODE` as a dict."""
        out = {}
        for line in self.tool("env", node).stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            out[key] = value
        return out

    def exec(self, node, *cmd, check=True, timeout=60):
        """Runs cmd inside NODE's namespaces with its env; returns CompletedProcess."""
        return self.tool("exec", node, "--", *cmd, check=check, timeout=timeout)

    def popen(self, node, *cmd, **kw):
        """Starts a long-running cmd (an exporter, say) inside NODE; returns the Popen.
        Its pid is the command's own (tools/testbed exec ends in exec)."""
        return subprocess.Popen([str(TOOL), "exec", node, "--", *map(str, cmd)],
                                env=self.environ, **kw)

    def kubectl(self, *args, node="cp1", check=True):
        return self.exec(node, "kubectl", *args, check=check).stdout

    def lease_holder(self, node="cp1"):
        r = self.exec(node, "kubectl", "-n", "kube-system", "get", "lease", "plndr-cp-lock",
                      "-o", "jsonpath={.spec.holderIdentity}", "--request-timeout=2s", check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def vip_holders(self):
        """Nodes (cpN) whose eno1 carries the VIP, from `ip addr` in each namespace."""
        return self.tool("vip-holders").stdout.split()

    def curl(self, node, url, timeout=2):
        """(exit code, body) of curl -sk URL from inside NODE."""
        r = self.exec(node, "curl", "-sk", "--max-time", str(timeout), url, check=False)
        return r.returncode, r.stdout

    def kubevip_container(self, node, state="running"):
        """Id of the node's kube-vip container in that CRI state, or ''."""
        return self.exec(node, "crictl", "ps", "--name", "kube-vip", "--state", state, "-q",
                         check=False).stdout.strip()

    def kubevip_pids(self, node):
        """kube-vip processes in the node's network namespace (the container's process)."""
        netns = self.env(node)["NETNS"]
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout.split()
        found = []
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "kube-vip":
                    found.append(int(pid))
            except OSError:
                continue
        return found

    def mirror_pod(self, node, jsonpath, via="cp1"):
        r = self.exec(via, "kubectl", "-n", "kube-system", "get", "pod", f"kube-vip-k8s-{node}",
                      "-o", f"jsonpath={jsonpath}", "--request-timeout=2s", check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def settled(self):
        """Every kube-vip running and exactly one VIP holder, which holds the lease."""
        if not all(self.kubevip_container(n) for n in NODES):
            return False
        holders = self.vip_holders()
        leader = self.lease_holder()
        return len(holders) == 1 and leader == f"k8s-{holders[0]}" and holders[0]

    def wait_settled(self, timeout=90):
        return wait_for(self.settled, timeout=timeout, interval=0.2,
                        what=f"testbed {self.name} settled (one VIP holder == lease holder)")

    def leader(self):
        """The node (cpN) holding the lease."""
        holder = self.lease_holder() or ""
        return holder.removeprefix("k8s-")


def peers_or_skip():
    """Builds missing peers; SKIPs (with the reason) only when one cannot be built at all."""
    r = subprocess.run([str(PEERS), "build"], capture_output=True, text=True)
    if r.returncode != 0:
        reason = f"SKIP: a testbed peer cannot be built: {r.stderr.strip().splitlines()[-5:]}"
        print(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def testbed():
    if os.geteuid() != 0:
        print("SKIP: the testbed needs root (network namespaces, cgroups)")
        pytest.skip("SKIP: the testbed needs root (network namespaces, cgroups)")
    tb = Testbed(os.environ.get("KVIP_TESTBED", "kvip"))
    was_up = tb.is_up()
    if not was_up:
        peers_or_skip()
        r = tb.tool("up", check=False)
        if r.returncode != 0:
            tb.tool("down", check=False)
            pytest.fail(f"tools/testbed up failed:\n{r.stderr[-3000:]}")
    tb.wait_settled()
    yield tb
    if not was_up and os.environ.get("KVIP_TESTBED_KEEP") != "1":
        tb.tool("heal", check=False)
        tb.tool("down")


@pytest.fixture
def cluster(testbed):
    """A settled testbed before each test; healed and settled again after it, so a fault a
    test injected never reaches the next one."""
    testbed.tool("heal")
    testbed.wait_settled()
    yield testbed
    testbed.tool("heal")
    testbed.wait_settled(timeout=180)
