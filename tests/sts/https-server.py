#!/usr/bin/python3
"""An HTTPS server for the MTA-STS fetch tests, on loopback only.

Usage: https-server.py ADDR PORT CERT KEY [POLICY_DIR]
Answers GET /.well-known/mta-sts.txt by the Host header's domain (the
name after "mta-sts."), one behaviour per test case; HTTP/1.0, closes
after each response.  With POLICY_DIR, a domain with a file of its name
there gets that file (200, text/plain): the end-to-end tests' policies.
"""
import os
import http.server
import socketserver
import ssl
import sys
import time

GOOD = b"version: STSv1\r\nmode: enforce\r\nmx: *.enforce.sts.example\r\nmx: mail.good.example\r\nmax_age: 86400\r\n"

CASES = {
    # domain: (status, headers, body)
    "good.example": (200, [("Content-Type", "text/plain")], GOOD),
    "charset.example": (200, [("Content-Type", "text/plain; charset=utf-8")], GOOD),
    "nolength.example": (200, [("Content-Type", "text/plain")], GOOD),
    "truncated.example": (200, [("Content-Type", "text/plain")], GOOD),
    "redirect.example": (301, [("Location", "https://mta-sts.good.example/.well-known/mta-sts.txt"),
                               ("Content-Type", "text/plain")], b"moved\n"),
    "html.example": (200, [("Content-Type", "text/html")], GOOD),
    "notype.example": (200, [], GOOD),
    "big.example": (200, [("Content-Type", "text/plain")], GOOD + b"x" * 70000),
    "notfound.example": (404, [("Content-Type", "text/plain")], b"no\n"),
    # the domains of the DNS test zones (tests/sts/dns-zones.sh)
    "enforce.sts.example": (200, [("Content-Type", "text/plain")],
                            b"version: STSv1\nmode: enforce\nmx: *.enforce.sts.example\nmax_age: 86400\n"),
    "dane.sts.example": (200, [("Content-Type", "text/plain")],
                         b"version: STSv1\nmode: enforce\nmx: mx.dane.sts.example\nmax_age: 86400\n"),
    "badage.example": (200, [("Content-Type", "text/plain")],
                       b"version: STSv1\nmode: enforce\nmx: mx.badage.example\nmax_age: 31557601\n"),
    # the TLS policy service's cases (tests/sts/tlspolicy-test.py)
    "testing.plain.example": (200, [("Content-Type", "text/plain")],
                              b"version: STSv1\nmode: testing\nmx: mx.testing.plain.example\nmax_age: 86400\n"),
    "none.plain.example": (200, [("Content-Type", "text/plain")],
                           b"version: STSv1\nmode: none\nmax_age: 86400\n"),
    "gone.plain.example": (200, [("Content-Type", "text/plain")],
                           b"version: STSv1\nmode: enforce\nmx: mx.gone.plain.example\nmax_age: 86400\n"),
    "redir.plain.example": (302, [("Location", "https://mta-sts.gone.plain.example/.well-known/mta-sts.txt"),
                                  ("Content-Type", "text/plain")], b"moved\n"),
    "html.plain.example": (200, [("Content-Type", "text/html")],
                           b"version: STSv1\nmode: enforce\nmx: mx.html.plain.example\nmax_age: 86400\n"),
    "big.plain.example": (200, [("Content-Type", "text/plain")],
                          b"version: STSv1\nmode: enforce\nmx: mx.big.plain.example\nmax_age: 86400\n" + b"#" * 70000),
    "badage.plain.example": (200, [("Content-Type", "text/plain")],
                             b"version: STSv1\nmode: enforce\nmx: mx.badage.plain.example\nmax_age: 31557601\n"),
}

# Domains whose answer changes with the number of requests served for
# them: (first response, every later one).
SEQUENCES = {
    # the policy changes (the test changes the TXT id too)
    "rot.plain.example": ((200, [("Content-Type", "text/plain")],
                           b"version: STSv1\nmode: enforce\nmx: mx1.rot.plain.example\nmax_age: 86400\n"),
                          (200, [("Content-Type", "text/plain")],
                           b"version: STSv1\nmode: enforce\nmx: mx2.rot.plain.example\nmax_age: 86400\n")),
    # a policy that expires at once, then a server that fails
    "flaky.plain.example": ((200, [("Content-Type", "text/plain")],
                             b"version: STSv1\nmode: enforce\nmx: mx.flaky.plain.example\nmax_age: 0\n"),
                            (503, [("Content-Type", "text/plain")], b"unavailable\n")),
}
SERVED = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        sys.stderr.write("https-server: " + (fmt % args) + "\n")

    def do_GET(self):
        host = (self.headers.get("Host") or "").lower()
        dom = host[len("mta-sts."):] if host.startswith("mta-sts.") else ""
        if self.path != "/.well-known/mta-sts.txt":
            self.send_error(404)
            return
        if dom in ("slow.example", "slow.plain.example"):
            time.sleep(30)
            return
        if dom in SEQUENCES:
            n = SERVED.get(dom, 0)
            SERVED[dom] = n + 1
            status, headers, body = SEQUENCES[dom][min(n, 1)]
        else:
            status, headers, body = CASES.get(dom, (404, [("Content-Type", "text/plain")], b"unknown\n"))
        pdir = self.server.policy_dir
        if pdir and dom and "/" not in dom and not dom.startswith(".") and os.path.isfile(os.path.join(pdir, dom)):
            with open(os.path.join(pdir, dom), "rb") as f:
                status, headers, body = 200, [("Content-Type", "text/plain")], f.read()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if dom not in ("nolength.example", "truncated.example"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if dom == "nolength.example":
            # the end of a body without Content-Length: TLS close_notify
            self.connection.unwrap()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    addr, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if not addr.startswith("127."):
        sys.exit("https-server: loopback addresses only")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server((addr, port), Handler)
    srv.policy_dir = sys.argv[5] if len(sys.argv) > 5 else None
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
