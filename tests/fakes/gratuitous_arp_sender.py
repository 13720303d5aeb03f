#!/usr/bin/env python3
"""Sends gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) for an
address from an interface, as kube-vip does after taking the VIP, plus one deliberately
malformed ARP frame when asked. Debian has no arping here; this is the smallest raw-socket
sender that does the same. Run it inside a test namespace only.

usage: gratuitous_arp_sender.py IFACE ADDRESS [COUNT] [--malformed]
"""
import ipaddress
import socket
import struct
import sys


def mac_of(iface):
    with open(f"/sys/class/net/{iface}/address") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def garp(mac, address):
    ip = address.packed
    return (b"\xff" * 6 + mac + b"\x08\x06"
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + ip)


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def unsolicited_na(mac, address):
    source = address.packed
    all_nodes = ipaddress.IPv6Address("ff02::1").packed
    body = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + source + bytes([2, 1]) + mac  # O flag
    pseudo = source + all_nodes + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]
    ip6 = struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + source + all_nodes
    return b"\x33\x33\x00\x00\x00\x01" + mac + b"\x86\xdd" + ip6 + body


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    iface, address = args[0], ipaddress.ip_address(args[1])
    count = int(args[2]) if len(args) > 2 else 1
    mac = mac_of(iface)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    frame = garp(mac, address) if address.version == 4 else unsolicited_na(mac, address)
    for _ in range(count):
        sock.send(frame)
    if "--malformed" in sys.argv:
        # ARP from the address, but claiming a 5-byte hardware address: must be dropped.
        ip = address.packed
        sock.send(b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 5, 4, 2)
                  + mac + ip + b"\x00" * 14)


if __name__ == "__main__":
    main()
