#!/usr/bin/python3
"""The MTA-STS policy server of the TLS-policy benchmark (bench/sts_bench.sh).

Usage: sts_https.py ADDR PORT CERT KEY ZONE
Answers GET /.well-known/mta-sts.txt for Host mta-sts.benchN.ZONE with an
enforce policy naming the one MX host of the bench zone,
mx.benchN.ZONE; anything else is 404.  Loopback only, HTTP/1.0, one
response per connection.  Only the caches' warm-up fetches from it: the
measured lookups are all answered from cache.
"""
import http.server
import re
import socketserver
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    zone = ""

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        host = (self.headers.get("Host") or "").lower().split(":")[0]
        m = re.fullmatch(r"mta-sts\.(bench[0-9]{1,6})\." + re.escape(self.zone), host)
        if self.path != "/.well-known/mta-sts.txt" or m is None:
            self.send_error(404)
            return
        body = ("version: STSv1\nmode: enforce\nmx: mx.%s.%s\nmax_age: 604800\n" % (m.group(1), self.zone)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    addr, port, cert, key, zone = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    if not addr.startswith("127."):
        sys.exit("sts_https: loopback addresses only")
    Handler.zone = zone.lower().rstrip(".")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server((addr, port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
