"""Loopback stand-ins for what Alertmanager notifies: a Discord-compatible webhook endpoint
and an SMTP sink. Both listen on 127.0.0.1 with a kernel-chosen port and only record.

Discord itself is out of reach here; this endpoint answers as Discord's webhook API does
(POST /api/webhooks/<id>/<token> with JSON -> 204 No Content) and keeps every payload.
"""
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _ServedInBackground:
    """A socketserver answering on a daemon thread for the length of a `with` block."""

    def serve(self, server):
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class DiscordSink(_ServedInBackground):
    """Records {path: [payload, ...]}; url(channel) gives a webhook URL for that channel."""

    def __init__(self, host="127.0.0.1"):
        self.payloads = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with sink.lock:
                    sink.payloads.setdefault(self.path, []).append(payload)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.serve(ThreadingHTTPServer((host, 0), Handler))

    def url(self, channel):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/api/webhooks/{channel}/test-token"

    def messages(self, channel):
        with self.lock:
            return list(self.payloads.get(f"/api/webhooks/{channel}/test-token", []))

class SmtpSink(_ServedInBackground):
    """Just enough SMTP (no TLS, no AUTH advertised) to accept and keep each message."""

    def __init__(self, host="127.0.0.1"):
        self.messages = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink ESMTP\r\n")
                data, in_data = [], False
                for raw in self.rfile:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if in_data:
                        if line == ".":
                            sink.messages.append("\n".join(data))
                            data, in_data = [], False
                            self.wfile.write(b"250 queued\r\n")
                        else:
                            data.append(line)
                        continue
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "DATA":
                        in_data = True
                        self.wfile.write(b"354 go on\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                        self.wfile.write(b"250 ok\r\n")

        server = socketserver.ThreadingTCPServer((host, 0), Handler)
        server.daemon_threads = True
        self.serve(server)

    @property
    def address(self):
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"


def alertmanager_test_config(am, discord_url, smtp_address, password_file, group_interval="2s",
                             group_wait="1s"):
    """deploy/alertmanager/alertmanager.yml (as a dict) pointed at loopback sinks, with short
    timers; routes, receivers and inhibitions stay as shipped. discord_url(channel) -> URL.
    group_wait=None keeps the shipped one (what inhibitions within one batch rely on)."""
    am["global"].update(smtp_smarthost=smtp_address, smtp_require_tls=False,
                        smtp_auth_password_file=str(password_file))
    channel = {"REPLACE_WITH_INCIDENTS_WEBHOOK": "incidents", "REPLACE_WITH_STATUS_WEBHOOK": "status"}
    for rcv in am["receivers"]:
        for d in rcv.get("discord_configs", []):
            d["webhook_url"] = discord_url(channel[d["webhook_url"].rsplit("/", 1)[1]])
    am["route"]["routes"][0].update(group_interval=group_interval)
    if group_wait is not None:
        am["route"]["routes"][0].update(group_wait=group_wait)
    return am


def main(argv):
    """Runs both sinks until SIGTERM, for a test whose Alertmanager lives in another network
    namespace: writes DIR/ports.json, then one JSON line per message to DIR/discord.jsonl
    ({"channel", "payload"}) and DIR/email.jsonl ({"message"})."""
    import argparse
    import signal
    import time
    from pathlib import Path

    ap = argparse.ArgumentParser()
    ap.add_argument("--record", required=True, help="directory for ports.json and the message logs")
    args = ap.parse_args(argv)
    out = Path(args.record)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with DiscordSink() as discord, SmtpSink() as smtp:
        (out / "ports.json").write_text(json.dumps({"discord": discord.server.server_address[1],
                                                    "smtp": smtp.server.server_address[1]}))
        seen_d, seen_e = 0, 0
        while not stop.is_set():
            with discord.lock:
                new = [(path, p) for path, ps in discord.payloads.items() for p in ps]
            if len(new) != seen_d:  # rewrite the whole log: small, and never half a line
                with open(out / "discord.jsonl", "w") as f:
                    for path, p in new:
                        f.write(json.dumps({"channel": path.split("/")[3], "payload": p}) + "\n")
                seen_d = len(new)
            if len(smtp.messages) != seen_e:
                with open(out / "email.jsonl", "w") as f:
                    for m in smtp.messages:
                        f.write(json.dumps({"message": m}) + "\n")
                seen_e = len(smtp.messages)
            time.sleep(0.2)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
