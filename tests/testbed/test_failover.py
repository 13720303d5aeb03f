"""Failover and node death on the testbed: what the exporter's lease watch and split-brain
detection are tested against."""
import time

import pytest

from testbed_fixture import LEASE_DURATION, NODES, holds_for, testbed, wait_for  # noqa: F401

# A follower takes the lease once it has not seen it renewed for the lease duration. It
# looks every retry period (1 s) stretched by client-go's JitterFactor 1.2, so up to 2.2 s:
# once to see the last renewal and once after expiry. Worst case 5 + 2 x 2.2 = 9.4 s;
# the rest covers the apiserver and this test's kubectl polls on a loaded 2-core machine
# (a CI run took more than the 7 s this was before).
RETRY_WAIT_MAX = 1.0 * (1 + 1.2)
TAKEOVER = LEASE_DURATION + 2 * RETRY_WAIT_MAX + 3.0


@pytest.fixture
def settled(testbed):
    """Starts each test from one healthy leader; heals and re-settles afterwards."""
    testbed.wait_settled()
    yield testbed
    testbed.tool("heal")
    testbed.wait_settled()


def wait_converged(tb, via, expected, timeout, what):
    """Waits for exactly one VIP holder that also holds the lease (read through `via`); returns it.

    Under load a new holder can miss a renewal (renew deadline 3 s) and leadership moves on
    again. The cluster is still right, so the holder may differ from `expected`; that is printed.
    """
    seen = {}
    start = time.monotonic()

    def converged():
        vip, lease = tb.vip_holders(), tb.lease_holder(via)
        seen.update(vip=vip, lease=lease, after_s=round(time.monotonic() - start, 1))
        return len(vip) == 1 and lease == f"k8s-{vip[0]}" and vip[0]

    holder = wait_for(converged, timeout=timeout, interval=0.2, what=lambda: f"{what}; last seen {seen}")
    if holder != expected:
        print(f"leadership moved on after {what}: {expected} -> {holder}")
    return holder


def new_leader(tb, old):
    holder = tb.lease_holder()
    return holder and holder != f"k8s-{old}" and holder.removeprefix("k8s-")


def test_stopping_the_leaders_container_fails_over_and_kubelet_restarts_it(settled):
    tb = settled
    old = tb.leader()
    container = tb.kubevip_container(old)
    restarts = int(tb.mirror_pod(old, "{.status.containerStatuses[0].restartCount}"))
    # A SIGTERMed leader releases the lease, but when kubelet restarts it before a
    # follower's next retry (1 s) it takes its own lease back (1 in 3 runs here). Holding
    # the kubelet until the follower has taken over makes the failover deterministic.
    tb.tool("fault", old, "freeze-kubelet")
    start = time.monotonic()
    # --timeout: SIGTERM first, as kubelet stops containers; the default (0) is a SIGKILL.
    tb.exec(old, "crictl", "stop", "--timeout", "30", container)
    new = wait_for(lambda: new_leader(tb, old), timeout=LEASE_DURATION, what="a new lease holder")
    wait_for(lambda: tb.vip_holders() == [new], timeout=LEASE_DURATION, what=f"the VIP on {new} only")
    print(f"failover {old} -> {new} in {time.monotonic() - start:.1f}s")
    tb.tool("heal", old)
    # kubelet restarts the stopped container; it rejoins as a follower.
    wait_for(lambda: tb.kubevip_container(old) not in ("", container), timeout=60,
             what=f"kubelet restarting kube-vip on {old}")
    wait_for(lambda: int(tb.mirror_pod(old, "{.status.containerStatuses[0].restartCount}")) > restarts,
             timeout=30, what="restartCount to grow")
    assert tb.lease_holder() == f"k8s-{new}"
    assert tb.vip_holders() == [new]


@pytest.mark.parametrize("fault", ["kill-kubevip", "freeze-kubevip"])
def test_a_leader_that_cannot_clean_up_leaves_two_vip_holders_until_healed(settled, fault):
    tb = settled
    old = tb.leader()
    start = time.monotonic()
    tb.tool("fault", old, fault)
    new = wait_for(lambda: new_leader(tb, old), timeout=TAKEOVER, what="a new lease holder")
    both = sorted([old, new])
    wait_for(lambda: sorted(tb.vip_holders()) == both, timeout=10, what=f"the VIP on {both}")
    print(f"{fault}: {new} took over after {time.monotonic() - start:.1f}s; VIP on {both}")
    # The stale VIP stays: nothing runs on the old leader that could remove it.
    holds_for(lambda: sorted(tb.vip_holders()) == both, LEASE_DURATION, what="two VIP holders")
    tb.tool("heal", old)
    via = next(n for n in NODES if n not in (old, new))
    wait_converged(tb, via, new, timeout=60, what=f"the stale VIP gone from {old} after the heal")


def fault_the_leader(tb, fault):
    """Injects `fault` on the leader and waits for another node to take the lease, read
    through `via`, a node other than the old leader (whose API server the fault may take
    down). Returns (old, via, new)."""
    old = tb.leader()
    via = next(n for n in NODES if n != old)
    tb.tool("fault", old, fault)
    holder = lambda: (tb.lease_holder(via) or "").removeprefix("k8s-")  # noqa: E731
    new = wait_for(lambda: holder() not in ("", old) and holder(), timeout=TAKEOVER + 5,
                   what="a new lease holder")
    return old, via, new


def test_a_frozen_apiserver_moves_the_vip(settled):
    tb = settled
    _, _, new = fault_the_leader(tb, "freeze-apiserver")
    # The old leader fails to renew, steps down and removes its VIP (after a short
    # double-VIP window).
    wait_for(lambda: tb.vip_holders() == [new], timeout=15, what=f"the VIP on {new} only")


def test_link_down_moves_the_vip(settled):
    tb = settled
    old, via, new = fault_the_leader(tb, "link-down")
    wait_for(lambda: new in tb.vip_holders(), timeout=10, what=f"the VIP on {new}")
    tb.tool("heal", old)
    # The lease is read through `via`: the old leader's API server lost etcd with its link and
    # may take a while to reconnect; that is not what this test is about.
    wait_converged(tb, via, new, timeout=60, what="the link is back")
