#!/usr/bin/python3
"""A stand-in for postern-hookd, used only to record Postfix log lines for
the maillog parser's golden files (tests/proto/record-maillog.sh): Dovecot
auth (PLAIN, every login accepted as user=<login>) and a policy service
that routes by the SASL user name: enf* -> postern-tls-encrypt,
ver* -> postern-tls-verify, t13* -> postern-tls13-encrypt, anything else
DUNNO (opportunistic, transport_maps routing); the FILTER next hop is
the sink of the recipient's domain.  Loopback only.

usage: record_hookd.py AUTH_PORT POLICY_PORT
"""
import base64
import socketserver
import sys
import threading

# recipient domain -> sink port (the same as the transport map)
PORTS = {"clear.test": 20025, "tls.test": 20026, "tls13.test": 20027,
         "untrusted.test": 20028, "verified.test": 20030}


class Auth(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\t00\nDONE\n")
        self.wfile.flush()
        for raw in self.rfile:
            f = raw.decode().rstrip("\n").split("\t")
            if f[0] != "AUTH":
                continue
            resp = [a[5:] for a in f[3:] if a.startswith("resp=")]
            if not resp:
                self.wfile.write(("CONT\t%s\t\n" % f[1]).encode())
                self.wfile.flush()
                nxt = self.rfile.readline().decode().rstrip("\n").split("\t")
                resp = [nxt[2] if len(nxt) > 2 else ""]
            parts = base64.b64decode(resp[0]).split(b"\0")
            user = parts[1].decode() if len(parts) > 1 else "x"
            self.wfile.write(("OK\t%s\tuser=%s\n" % (f[1], user)).encode())
            self.wfile.flush()


class Policy(socketserver.StreamRequestHandler):
    def handle(self):
        attrs = {}
        for raw in self.rfile:
            line = raw.decode().rstrip("\n")
            if line:
                k, _, v = line.partition("=")
                attrs[k] = v
                continue
            u = attrs.get("sasl_username", "")
            dom = attrs.get("recipient", "").rpartition("@")[2].lower()
            hop = "[127.0.0.1]:%d" % PORTS.get(dom, 20099)
            if u.startswith("enf"):
                act = "FILTER postern-tls-encrypt:" + hop
            elif u.startswith("ver"):
                act = "FILTER postern-tls-verify:" + hop
            elif u.startswith("t13"):
                act = "FILTER postern-tls13-encrypt:" + hop
            else:
                act = "DUNNO"
            self.wfile.write(("action=%s\n\n" % act).encode())
            self.wfile.flush()
            attrs = {}


class Srv(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    a = Srv(("127.0.0.1", int(sys.argv[1])), Auth)
    p = Srv(("127.0.0.1", int(sys.argv[2])), Policy)
    threading.Thread(target=a.serve_forever, daemon=True).start()
    p.serve_forever()


if __name__ == "__main__":
    main()
