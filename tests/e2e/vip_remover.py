#!/usr/bin/python3
"""Deletes VIP from IFACE each time it appears, as a network manager that owns the interface
does with addresses it did not configure. Not a fake: the real kernel address, the real
kube-vip putting it back every 3 s. Runs inside a node's network namespace.

Usage: vip_remover.py VIP IFACE      prints "ready", then one line per deletion; SIGTERM ends it.
"""
import signal
import subprocess
import sys

vip, iface = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def delete():
    r = subprocess.run(["ip", "addr", "del", f"{vip}/32", "dev", iface], capture_output=True, text=True)
    if r.returncode == 0:
        print("deleted", flush=True)


# Subscribe first, then delete what is there: no add can slip between the two.
monitor = subprocess.Popen(["ip", "-o", "monitor", "address", "dev", iface],
                           stdout=subprocess.PIPE, text=True)
delete()
print("ready", flush=True)
try:
    for line in monitor.stdout:
        if not line.startswith("Deleted") and f" inet {vip}/" in line:
            delete()
finally:
    monitor.terminate()
