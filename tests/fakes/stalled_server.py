#!/usr/bin/env python3
"""A TCP peer that accepts connections and never answers: the fault a stalled kube-vip
(or a frozen process) produces, which a real exporter cannot be made to do on demand.

Usage: stalled_server.py HOST PORT   (prints "ready" once listening)
"""
import sys

from fake_peer import listen


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    server = listen(host, port)
    held = []  # keep every connection open and unread
    while True:
        connection, _ = server.accept()
        held.append(connection)


if __name__ == "__main__":
    main()
