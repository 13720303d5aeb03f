"""Makes the changes whose detection bench/run times, from inside a testbed node namespace.

  events.py lease KUBECONFIG NAMESPACE NAME HOLDER_A HOLDER_B COUNT
      Creates the Lease if missing, then COUNT times moves spec.holderIdentity between
      HOLDER_A and HOLDER_B (renewTime = now) with a PATCH, 1.0-1.3 s apart.
  events.py vip INTERFACE ADDRESS COUNT
      COUNT times adds / removes ADDRESS/32 on INTERFACE through rtnetlink, 0.3-0.5 s apart.
  events.py delete-lease KUBECONFIG NAMESPACE NAME

Prints one JSON line: events as [t_send, t_ack, expected] in wall-clock seconds, where
expected is the holder (lease) or 1/0 (vip). The send time is taken just before the request
leaves, the ack time when the API server / kernel confirmed it.
"""

import base64
import datetime
import http.client
import ipaddress
import json
import os
import random
import socket
import ssl
import struct
import sys
import tempfile
import time
import urllib.parse

import yaml


# ---------------------------------------------------------------- Kubernetes

class Api:
    def __init__(self, kubeconfig):
        with open(kubeconfig) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg["current-context"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.tmp = tempfile.mkdtemp(prefix="kvbench-")
        paths = {}
        for key in ("client-certificate-data", "client-key-data"):
            path = os.path.join(self.tmp, key)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                f.write(base64.b64decode(user[key]))
            paths[key] = path
        context = ssl.create_default_context(cadata=base64.b64decode(
            cluster["certificate-authority-data"]).decode())
        context.load_cert_chain(paths["client-certificate-data"], paths["client-key-data"])
        url = urllib.parse.urlparse(cluster["server"])
        self.conn = http.client.HTTPSConnection(url.hostname, url.port or 443, context=context,
                                                timeout=10)

    def request(self, method, path, body=None, content_type="application/json"):
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self):
        self.conn.close()
        for name in os.listdir(self.tmp):
            os.remove(os.path.join(self.tmp, name))
        os.rmdir(self.tmp)


def micro_time(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def lease_events(kubeconfig, namespace, name, holder_a, holder_b, count):
    api = Api(kubeconfig)
    base = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    now = micro_time(time.time())
    status, body = api.request("POST", base, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"holderIdentity": holder_b, "leaseDurationSeconds": 30, "acquireTime": now,
                 "renewTime": now, "leaseTransitions": 0}})
    if status not in (201, 409):
        raise RuntimeError(f"creating lease {namespace}/{name}: HTTP {status}: {body[:200]!r}")
    time.sleep(2)  # let every watcher see the starting holder
    events = []
    for i in range(count):
        holder = holder_a if i % 2 == 0 else holder_b
        t_send = time.time()
        status, body = api.request("PATCH", f"{base}/{name}", {"spec": {
            "holderIdentity": holder, "renewTime": micro_time(t_send),
            "acquireTime": micro_time(t_send), "leaseTransitions": i + 1}},
            content_type="application/merge-patch+json")
        t_ack = time.time()
        if status != 200:
            raise RuntimeError(f"patching lease {namespace}/{name}: HTTP {status}: {body[:200]!r}")
        events.append([t_send, t_ack, holder])
        time.sleep(1.0 + random.random() * 0.3)
    api.close()
    return events


def delete_lease(kubeconfig, namespace, name):
    api = Api(kubeconfig)
    status, _ = api.request("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")
    api.close()
    return status


# ---------------------------------------------------------------- rtnetlink

RTM_NEWADDR, RTM_DELADDR, NLMSG_ERROR = 20, 21, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL = 1, 2


def addr_message(kind, seq, index, address):
    raw = ipaddress.IPv4Address(address).packed
    flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if kind == RTM_NEWADDR else 0)
    payload = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, index)
    payload += struct.pack("=HH", 8, IFA_LOCAL) + raw + struct.pack("=HH", 8, IFA_ADDRESS) + raw
    return struct.pack("=LHHLL", 16 + len(payload), kind, flags, seq, 0) + payload


def netlink_call(sock, message):
    sock.send(message)
    reply = sock.recv(65536)
    _, kind, _, _, _ = struct.unpack("=LHHLL", reply[:16])
    if kind != NLMSG_ERROR:
        raise RuntimeError(f"unexpected netlink reply type {kind}")
    return -struct.unpack("=i", reply[16:20])[0]  # errno, 0 = ok


def vip_events(interface, address, count):
    index = socket.if_nametoindex(interface)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    sock.bind((0, 0))
    netlink_call(sock, addr_message(RTM_DELADDR, 1, index, address))  # absent to begin with
    time.sleep(1)
    events = []
    for i in range(count):
        kind = RTM_NEWADDR if i % 2 == 0 else RTM_DELADDR
        message = addr_message(kind, i + 2, index, address)
        t_send = time.time()
        err = netlink_call(sock, message)
        t_ack = time.time()
        if err:
            raise RuntimeError(f"{'adding' if kind == RTM_NEWADDR else 'removing'} {address} on "
                               f"{interface}: {os.strerror(err)}")
        events.append([t_send, t_ack, 1 if kind == RTM_NEWADDR else 0])
        time.sleep(0.3 + random.random() * 0.2)
    if count % 2:  # leave the address off
        netlink_call(sock, addr_message(RTM_DELADDR, count + 2, index, address))
    sock.close()
    return events


def main():
    mode = sys.argv[1]
    if mode == "lease":
        kubeconfig, namespace, name, a, b, count = sys.argv[2:8]
        out = {"events": lease_events(kubeconfig, namespace, name, a, b, int(count))}
    elif mode == "vip":
        interface, address, count = sys.argv[2:5]
        out = {"events": vip_events(interface, address, int(count))}
    elif mode == "delete-lease":
        out = {"status": delete_lease(*sys.argv[2:5])}
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
