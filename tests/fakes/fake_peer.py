"""What every fake TCP peer here shares: listening on HOST PORT with "ready" printed once it
does, reading an HTTP request's head, and serving connections one at a time."""
import socket


def listen(host, port):
    """A listening socket on (host, port); prints "ready" (tests wait for it)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen()
    print("ready", flush=True)
    return server


def read_request(connection):
    """Reads up to the end of the request's headers; False when the client closes first."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = connection.recv(4096)
        if not chunk:
            return False
        request += chunk
    return True


def serve_forever(host, port, handle, timeout):
    """Calls handle(connection) for each connection in turn, each with a socket timeout;
    a client that gives up (an OSError) ends only its own connection."""
    server = listen(host, port)
    while True:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(timeout)
            try:
                handle(connection)
            except OSError:
                pass
