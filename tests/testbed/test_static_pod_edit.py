"""The seed's upgrade step on one node: pre-pull v1.0.4, edit the static pod manifest with
the seed's own sed, and kubelet brings up the new container."""
import time

from testbed_fixture import testbed, wait_for  # noqa: F401

OLD = "ghcr.io/kube-vip/kube-vip:v1.0.3"
NEW = "ghcr.io/kube-vip/kube-vip:v1.0.4"


def running_image(tb, node):
    """Image of the node's running kube-vip container as the CRI reports it."""
    cid = tb.kubevip_container(node)
    if not cid:
        return None
    return tb.exec(node, "crictl", "inspect", "-o", "go-template", "--template",
                   "{{.status.image.image}}", cid, check=False).stdout.strip()


def set_image(tb, node, old, new):
    # Exactly the seed's command (2.1.2.1), run on the node.
    tb.exec(node, "sh", "-c", f"sed -i 's|{old}|{new}|' \"$KUBEVIP_MANIFEST\"")


def test_manifest_edit_brings_up_the_new_image(testbed):
    tb = testbed
    tb.wait_settled()
    node = next(n for n in ("cp1", "cp2", "cp3") if n != tb.leader())  # a non-leader first
    # The seed's pre-pull (2.1.1.4, into containerd's k8s.io namespace), through the mirror.
    tb.exec(node, "ctr", "-n", "k8s.io", "images", "pull", NEW)
    assert NEW in tb.exec(node, "crictl", "images", "-o", "yaml").stdout.replace("- ", "")
    old_container = tb.kubevip_container(node)
    start = time.monotonic()
    set_image(tb, node, OLD, NEW)
    try:
        wait_for(lambda: running_image(tb, node) == NEW, timeout=60,
                 what=f"kube-vip {NEW} running on {node}")
        print(f"new container on {node} after {time.monotonic() - start:.1f}s")
        assert tb.kubevip_container(node) != old_container
        wait_for(lambda: tb.mirror_pod(node, "{.spec.containers[0].image}") == NEW, timeout=30,
                 what="the mirror pod showing the new image")
        tb.wait_settled()
    finally:
        set_image(tb, node, NEW, OLD)
        wait_for(lambda: running_image(tb, node) == OLD, timeout=60,
                 what=f"kube-vip back on {OLD} on {node}")
        tb.wait_settled()
