#!/usr/bin/env python3
"""A peer on kube-vip's metrics port that misbehaves in ways a real kube-vip cannot be made
to on demand: bodies far beyond any sane size, a body that never ends, a connection closed
or reset without an answer, an answer dripped a byte at a time, an empty answer.

Usage: misbehaving_metrics_server.py HOST PORT MODE   (prints "ready" once listening)
  huge     HTTP 200, Content-Length 1 GiB of valid text format, streamed until the client goes
  endless  HTTP 200, chunked, valid text format that never ends
  close    reads the request, closes without a byte
  reset    reads the request, resets the connection (RST)
  drip     HTTP 200 headers, then one body byte every 0.2 s
  empty    HTTP 200 with an empty body (valid text format with no samples)
Serves one connection at a time; each connection ends when the client gives up.
"""
import socket
import struct
import sys
import time

from fake_peer import read_request, serve_forever

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
LINES = b"".join(b"kube_vip_filler_%d 1\n" % i for i in range(2000))  # ~46 KB of valid samples


def serve(connection, mode):
    if not read_request(connection):
        return
    if mode == "close":
        return
    if mode == "reset":
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return
    if mode == "empty":
        connection.sendall(HEADERS + b"Content-Length: 0\r\n\r\n")
        return
    if mode == "huge":
        connection.sendall(HEADERS + b"Content-Length: %d\r\n\r\n" % (1 << 30))
        while True:
            connection.sendall(LINES)
    if mode == "endless":
        connection.sendall(HEADERS + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % len(LINES) + LINES + b"\r\n"
        while True:
            connection.sendall(chunk)
    if mode == "drip":
        connection.sendall(HEADERS + b"Content-Length: %d\r\n\r\n" % len(LINES))
        for byte in LINES:
            connection.sendall(bytes([byte]))
            time.sleep(0.2)
    raise SystemExit(f"unknown mode {mode}")


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    serve_forever(host, port, lambda connection: serve(connection, mode), timeout=30)


if __name__ == "__main__":
    main()
