#!/usr/bin/python3
"""A recipient mail server for the end-to-end tests, on loopback only.

Speaks enough ESMTP for Postfix's smtp client: EHLO, optional STARTTLS
(with the given certificate, optionally only TLS 1.3), MAIL, RCPT, DATA,
RSET, NOOP, QUIT. Every message it accepts is written to OUTDIR as
NNNN.eml, and one JSON line per message is appended to OUTDIR/log.jsonl
with the envelope and the TLS facts (version, cipher), so that a test can
assert on what actually arrived and how.

With --hold FILE, the answer to a message's final "." waits while FILE
exists (at most 120 s): a test can hold Postfix's smtp client between
its "TLS connection established" line and its delivery line.

usage: sink.py [--host ADDR] --port PORT --outdir DIR [--cert PEM --key PEM] [--tls13-only] [--hold FILE]
"""
import argparse
import itertools
import json
import os
import socket
import socketserver
import ssl
import threading
import time

counter = itertools.count(1)
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    # A connection stuck for this long is dropped: Postfix then retries,
    # so one lost connection cannot hold a test's message for minutes.
    timeout = 30
    def setup(self):
        super().setup()
        self.tls = None

    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(8192)
        if not line:
            raise EOFError
        return line.decode("latin-1").rstrip("\r\n")

    def handle(self):
        cfg = self.server.cfg
        try:
            self.send("220 sink.test ESMTP")
            mail_from, rcpts = None, []
            while True:
                line = self.readline()
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    caps = ["250-sink.test", "250-PIPELINING", "250-8BITMIME"]
                    if cfg.cert and self.tls is None:
                        caps.append("250-STARTTLS")
                    caps.append("250 SIZE 10240000")
                    for c in caps:
                        self.send(c)
                elif verb == "STAR" and cfg.cert and self.tls is None:
                    self.send("220 2.0.0 go ahead")
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    ctx.load_cert_chain(cfg.cert, cfg.key)
                    if cfg.tls13_only:
                        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
                    else:
                        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                    try:
                        conn = ctx.wrap_socket(self.connection, server_side=True)
                        conn.settimeout(self.timeout)
                    except (ssl.SSLError, OSError):
                        return
                    self.connection = conn
                    self.rfile = conn.makefile("rb")
                    self.wfile = conn.makefile("wb")
                    self.tls = {"version": conn.version(), "cipher": conn.cipher()[0]}
                    mail_from, rcpts = None, []
                elif verb == "MAIL":
                    mail_from, rcpts = line[10:].strip(), []
                    self.send("250 2.1.0 ok")
                elif verb == "RCPT":
                    rcpts.append(line[8:].strip())
                    self.send("250 2.1.5 ok")
                elif verb == "DATA":
                    self.send("354 go ahead")
                    body = []
                    while True:
                        l = self.readline()
                        if l == ".":
                            break
                        body.append(l[1:] if l.startswith("..") else l)
                    end = time.time() + 120
                    while cfg.hold and os.path.exists(cfg.hold) and time.time() < end:
                        time.sleep(0.05)
                    with lock:
                        n = next(counter)
                        path = os.path.join(cfg.outdir, "%04d.eml" % n)
                        with open(path, "w") as f:
                            f.write("\n".join(body) + "\n")
                        with open(os.path.join(cfg.outdir, "log.jsonl"), "a") as f:
                            f.write(json.dumps({"n": n, "from": mail_from, "rcpt": rcpts,
                                                "tls": self.tls is not None,
                                                "version": self.tls and self.tls["version"],
                                                "cipher": self.tls and self.tls["cipher"]}) + "\n")
                    self.send("250 2.0.0 queued as %d" % n)
                    mail_from, rcpts = None, []
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    self.send("250 2.0.0 ok")
                elif verb == "NOOP":
                    self.send("250 2.0.0 ok")
                elif verb == "QUIT":
                    self.send("221 2.0.0 bye")
                    return
                else:
                    self.send("502 5.5.2 not implemented")
        except (EOFError, ConnectionError, ssl.SSLError, OSError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    request_queue_size = 128  # Postfix opens many connections at once
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tls13-only", action="store_true")
    ap.add_argument("--hold")
    cfg = ap.parse_args()
    os.makedirs(cfg.outdir, exist_ok=True)
    if not cfg.host.startswith("127."):
        ap.error("--host must be a loopback address")
    srv = Server((cfg.host, cfg.port), Handler)
    srv.cfg = cfg
    srv.serve_forever()


if __name__ == "__main__":
    main()
