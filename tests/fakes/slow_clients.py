#!/usr/bin/env python3
"""A bounded slowloris: COUNT clients that open a connection, send a request header one
line at a time, one line every INTERVAL seconds, and never finish it. A client the server
drops waits INTERVAL, then connects again. Everything stops after DURATION seconds.

This is the fault no well-behaved client produces (a real Prometheus sends its request at
once), used to check that slow clients cannot starve a scrape. Loopback only, by design.

Usage: slow_clients.py HOST PORT [--count N] [--duration S] [--interval S] [--ramp S] [--tls]

--ramp spreads the first connections over S seconds, as slowloris tools do: holding many
connections is the point, not a burst of handshakes (that is a CPU flood, another attack).
Prints "ready" once COUNT connection attempts have been made (a TLS server under this load
may drop some mid-handshake), and at the end one JSON line:
{"attempts": ..., "opened": ..., "dropped_by_server": ..., "max_open": ..., "connect_errors": ...}
"""
import argparse
import asyncio
import ipaddress
import json
import resource
import ssl
import sys


class Stats:
    def __init__(self):
        self.attempts = 0
        self.opened = 0
        self.open = 0
        self.max_open = 0
        self.dropped_by_server = 0
        self.connect_errors = 0


async def client(index, args, tls, stats, ready, deadline):
    loop = asyncio.get_running_loop()
    await asyncio.sleep(args.ramp * index / args.count)
    while loop.time() < deadline:
        stats.attempts += 1
        if stats.attempts == args.count:
            ready.set()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(args.host, args.port, ssl=tls,
                                        server_hostname="localhost" if tls else None),
                timeout=max(0.1, deadline - loop.time()))
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            stats.connect_errors += 1
            await asyncio.sleep(args.interval)
            continue
        stats.opened += 1
        stats.open += 1
        stats.max_open = max(stats.max_open, stats.open)
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: slow\r\n")
            line = 0
            while loop.time() < deadline:
                await writer.drain()
                # A read that ends means the server closed on us.
                try:
                    data = await asyncio.wait_for(reader.read(1), timeout=args.interval)
                except asyncio.TimeoutError:
                    data = None
                if data is not None:
                    stats.dropped_by_server += 1
                    break
                writer.write(b"X-Slow-%d: x\r\n" % line)
                line += 1
        except (OSError, ssl.SSLError):
            stats.dropped_by_server += 1
        finally:
            stats.open -= 1
            writer.close()
        await asyncio.sleep(args.interval)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--ramp", type=float, default=0.0)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        sys.exit("slow_clients.py: refusing a non-loopback address")
    if not 1 <= args.count <= 5000 or not 0 < args.duration <= 300 or not 0 <= args.ramp < args.duration:
        sys.exit("slow_clients.py: want --count 1..5000, --duration up to 300 s, --ramp below it")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.count + 64)), hard))

    tls = None
    if args.tls:
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    stats = Stats()
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.duration

    async def announce():
        await ready.wait()
        print("ready", flush=True)

    announcer = asyncio.create_task(announce())
    await asyncio.gather(*(client(i, args, tls, stats, ready, deadline) for i in range(args.count)))
    announcer.cancel()
    print(json.dumps({"attempts": stats.attempts, "opened": stats.opened, "dropped_by_server": stats.dropped_by_server,
                      "max_open": stats.max_open, "connect_errors": stats.connect_errors}),
          flush=True)


if __name__ == "__main__":
    asyncio.run(main())
