#!/usr/bin/env python3
"""A peer on kube-vip's metrics port that answers with garbage: the fault a broken or
wrong service produces, which a real exporter cannot be made to do on demand.

Usage: garbage_server.py HOST PORT MODE   (prints "ready" once listening)
  MODE body: a well-formed HTTP 200 text/plain response whose body is not text format
  MODE raw:  bytes that are not HTTP at all, then close
"""
import sys

from fake_peer import read_request, serve_forever

BODY = b"go_goroutines 13\n\x00\x01\xfe binary junk {{{\n"
RESPONSES = {
    "body": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)) + BODY,
    "raw": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 this is not HTTP\r\n\r\n",
}


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    response = RESPONSES[mode]

    def answer(connection):
        if read_request(connection):
            connection.sendall(response)

    serve_forever(host, port, answer, timeout=5)


if __name__ == "__main__":
    main()
