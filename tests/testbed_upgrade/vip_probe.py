#!/usr/bin/env python3
"""Probes https://<VIP>:6443/healthz at a fixed rate and prints one line per probe:
"<unix time> <1|0> <detail>". Runs inside a testbed namespace (the lan, outside the
nodes), never in the root namespace. Every probe is a new TCP connection, so a VIP that
moves is seen at once (a kept-alive connection would stay with the old holder).

Usage: vip_probe.py VIP CA_FILE [RATE_HZ]; stops on SIGTERM.
"""
import signal
import socket
import ssl
import sys
import time

TIMEOUT_S = 0.25


def probe(vip, context):
    try:
        with socket.create_connection((vip, 6443), timeout=TIMEOUT_S) as raw:
            with context.wrap_socket(raw, server_hostname=vip) as tls:
                tls.settimeout(TIMEOUT_S)
                tls.sendall(f"GET /healthz HTTP/1.1\r\nHost: {vip}\r\nConnection: close\r\n\r\n".encode())
                reply = b""
                while chunk := tls.recv(4096):
                    reply += chunk
        ok = reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok")
        return ok, reply.split(b"\r\n", 1)[0].decode(errors="replace")
    except (OSError, ssl.SSLError) as err:
        return False, type(err).__name__


def main():
    vip, ca_file = sys.argv[1], sys.argv[2]
    interval = 1.0 / float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
    context = ssl.create_default_context(cafile=ca_file)
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    next_at = time.monotonic()
    while running:
        ok, detail = probe(vip, context)
        print(f"{time.time():.3f} {int(ok)} {detail}", flush=True)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


if __name__ == "__main__":
    main()
