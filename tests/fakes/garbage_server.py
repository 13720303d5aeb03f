#!/usr/bin/env python3
"""A peer on kube-vip's metrics port that answers with garbage: the fault a broken or
wrong service produces, which a real exporter cannot be made to do on demand.

Usage: garbage_server.py HOST PORT MODE   (prints "ready" once listening)
  MODE body: a well-formed HTTP 200 text/plain response whose body is not text format
  MODE raw:  bytes that are not HTTP at all, then close
"""
import socket
import sys

BODY = b"go_goroutines 13\n\x00\x01\xfe binary junk {{{\n"
RESPONSES = {
    "body": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)) + BODY,
    "raw": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 this is not HTTP\r\n\r\n",
}


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    response = RESPONSES[mode]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen()
    print("ready", flush=True)
    while True:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(5)
            request = b""
            try:
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                connection.sendall(response)
            except OSError:
                pass  # the client gave up; serve the next one


if __name__ == "__main__":
    main()
