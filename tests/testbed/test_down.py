"""`tools/testbed down` leaves nothing behind, also after a crash, and never touches
another instance. Runs its own short-lived instance next to the session's one."""
import glob
import os
import subprocess
from pathlib import Path

from testbed_fixture import TOOL, Testbed, testbed  # noqa: F401

OTHER = "tbdown"
STATE = Path("/var/lib/kvip-testbed") / OTHER


def leftovers(name):
    state = str(Path("/var/lib/kvip-testbed") / name)
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {line.split()[0]}" for line in netns.splitlines()
              if line.startswith(f"{name}-")]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if state in cmdline:
            found.append(f"process {pid}: {cmdline[:120]}")
    found += [f"mount {line}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if state in line]
    found += [f"cgroup {d}" for d in glob.glob(f"/sys/fs/cgroup/*/{name}-cp*")]
    found += [f"log link {link}" for link in glob.glob("/var/log/containers/*")
              if os.path.islink(link) and os.readlink(link).startswith(state)]
    if os.path.exists(state):
        found.append(f"state dir {state}")
    return found


def test_down_after_a_crash_leaves_nothing_and_spares_other_instances(testbed):
    other = Testbed(OTHER)
    try:
        other.tool("up")
        other.wait_settled()
        # A crash: every process of the instance dies at once and the pid files are lost.
        for ns in ("lan", "cp1", "cp2", "cp3"):
            pids = subprocess.run(["ip", "netns", "pids", f"{OTHER}-{ns}"],
                                  capture_output=True, text=True).stdout.split()
            subprocess.run(["kill", "-KILL", *pids], check=False)
        for pidfile in STATE.glob("run/*.pid"):
            pidfile.unlink()
        other.tool("down")
        assert leftovers(OTHER) == []
    finally:
        other.tool("down", check=False)
    # The session's instance did not notice.
    testbed.wait_settled(timeout=30)
    assert testbed.curl("cp2", "https://10.10.30.10:6443/healthz") == (0, "ok")


def test_down_after_a_half_finished_up_leaves_nothing():
    other = Testbed(OTHER)
    up = subprocess.Popen([str(TOOL), "up"], env=other.environ, stderr=subprocess.PIPE, text=True)
    try:
        # Interrupt `up` once the apiservers run but before the kubelets do.
        for line in up.stderr:
            if "images in the registry" in line:
                break
        up.kill()
        up.wait()
        other.tool("down")
        assert leftovers(OTHER) == []
    finally:
        up.kill()
        other.tool("down", check=False)


def test_down_twice_is_fine():
    other = Testbed(OTHER)
    other.tool("down")
    other.tool("down")
    assert leftovers(OTHER) == []
