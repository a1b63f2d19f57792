#!/usr/bin/python3
"""postern-hookd's TLS policy socketmap (srv_tlspolicy.c) end to end on
loopback: the real daemon on a real database, the nsd zones of
dns-zones.sh (signed and unsigned), the HTTPS policy server of
https-server.sh with its test CA, and a socketmap client speaking
netstrings over the daemon's unix socket.

Usage (through both scripts): tlspolicy-test.py HOOKD POSTERN
Environment: STS_DNS_ADDR STS_DNS_TA STS_DNS_DIR STS_HTTPS_PORT
STS_HTTPS_CA (from the scripts), HOOKD_WRAPPER (e.g. valgrind ...),
TMPDIR (outside the clone: the daemon drops to nobody).
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HOOKD, POSTERN = sys.argv[1], sys.argv[2]
WRAPPER = os.environ.get("HOOKD_WRAPPER", "").split()
SLOW = 4 if WRAPPER else 1  # valgrind
DNS_ADDR = os.environ["STS_DNS_ADDR"]
DNS_DIR = os.environ["STS_DNS_DIR"]
FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILED.append(what)


def netstring(b):
    return b"%d:%s," % (len(b), b)


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20 * SLOW)
        self.s.connect(path)
        self.buf = b""

    def send(self, name, key):
        self.s.sendall(netstring(("%s %s" % (name, key)).encode()))

    def read(self):
        while True:
            m = re.match(rb"(\d+):", self.buf)
            if m and len(self.buf) >= m.end() + int(m.group(1)) + 1:
                n = int(m.group(1))
                data = self.buf[m.end():m.end() + n]
                assert self.buf[m.end() + n:m.end() + n + 1] == b","
                self.buf = self.buf[m.end() + n + 1:]
                return data.decode()
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def ask(self, name, key):
        self.send(name, key)
        return self.read()

    def close(self):
        self.s.close()


class Daemon:
    def __init__(self, work):
        self.work = work
        self.conf = os.path.join(work, "hookd.conf")
        self.log = os.path.join(work, "hookd.log")
        self.sock = os.path.join(work, "tlspolicy.sock")
        self.proc = None

    def write_conf(self, extra=""):
        with open(self.conf, "w") as f:
            f.write("""database = {w}/postern.db
key_file = {w}/master.key
auth_listen =
policy_listen =
tlspolicy_listen = unix:{sock}
user = nobody
dns_forward = {dns}
dns_trust_anchor_file = {w}/ta.ds
mtasts_ca_file = {w}/ca.crt
mtasts_https_port = {port}
mtasts_timeout = {timeout}
tlspolicy_cache_ttl = 3
tlspolicy_stats_interval = 0
mtasts_failure_ttl = 1
{extra}""".format(w=self.work, sock=self.sock, dns=DNS_ADDR, port=os.environ["STS_HTTPS_PORT"],
                  timeout=1500 * SLOW, extra=extra))

    def start(self):
        self.logf = open(self.log, "ab")
        mark = len(self.text())
        self.proc = subprocess.Popen(WRAPPER + [HOOKD, "-f", "-d", "-c", self.conf], stderr=self.logf,
                                     stdout=self.logf)
        deadline = time.time() + 30 * SLOW
        while "tlspolicy unix:" not in self.text()[mark:]:
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit("postern-hookd did not start:\n" + self.text())
            time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60 * SLOW)
        self.logf.close()
        return rc

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, since=0, timeout=15):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            m = re.search(pattern, self.text()[since:])
            if m:
                return m
            time.sleep(0.1)
        return None


def nsd_pid():
    with open(os.path.join(DNS_DIR, "nsd.pid")) as f:
        return int(f.read().split()[0])


def dns_counts():
    """The queries the test DNS server received, by type (nsd-control)."""
    out = subprocess.run(os.environ["STS_DNS_CONTROL"].split() + ["stats_noreset"], check=True,
                         capture_output=True, text=True).stdout
    return {k: int(v) for k, v in re.findall(r"^num\.(?:type\.)?(\w+)=(\d+)$", out, re.M)}


def one_trip(dd):
    """TXT and MX (each at least once: libunbound resends a query a loaded
    server is slow to answer), nothing else."""
    return dd["TXT"] >= 1 and dd["MX"] >= 1 and dd["TLSA"] == 0 and dd["queries"] == dd["TXT"] + dd["MX"]


def dns_delta(before):
    after = dns_counts()
    return {k: after.get(k, 0) - before.get(k, 0) for k in ("queries", "TXT", "MX", "TLSA")}


def edit_zone(fn):
    path = os.path.join(DNS_DIR, "plain.example.zone")
    with open(path) as f:
        z = f.read()
    z = re.sub(r"(SOA \S+ \S+ )(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1), z, count=1)
    with open(path, "w") as f:
        f.write(fn(z))
    os.kill(nsd_pid(), signal.SIGHUP)


def main():
    work = tempfile.mkdtemp(prefix="tlspolicy.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.chmod(work, 0o755)
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if FAILED:
        sys.exit("%d check(s) failed: %s" % (len(FAILED), "; ".join(FAILED)))


def run(work):
    shutil.copy(os.environ["STS_HTTPS_CA"], os.path.join(work, "ca.crt"))
    with open(os.path.join(work, "ta.ds"), "w") as f:
        f.write(os.environ["STS_DNS_TA"] + "\n")
    for n in ("ca.crt", "ta.ds"):
        os.chmod(os.path.join(work, n), 0o644)
    db = os.path.join(work, "postern.db")
    subprocess.run([POSTERN, "--db", db, "account", "list"], check=True, stdout=subprocess.DEVNULL)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody").pw_uid
        for n in os.listdir(work):
            os.chown(os.path.join(work, n), nobody, -1)
        os.chown(work, nobody, -1)

    d = Daemon(work)
    d.write_conf()
    d.start()
    c = Client(d.sock)

    # enforce: exactly the MX hosts matching the policy (a.mx2 is two labels deep)
    secure = "OK secure match=mx1.enforce.sts.example servername=hostname"
    check(c.ask("tls-policy", "enforce.sts.example") == secure, "enforce -> secure match= the matching MX only")
    mark = len(d.text())
    check(c.ask("tls-policy-encrypt13", "enforce.sts.example") == secure + " protocols=>=TLSv1.3",
          "enforce on an enforcing map keeps the account's protocol")
    check(d.wait_log(r"tls-policy-encrypt13 enforce\.sts\.example: cached, ", mark) is not None,
          "the second lookup is answered from memory")

    # DANE first; concurrent lookups of one domain share one evaluation
    mark = len(d.text())
    cs = [Client(d.sock) for _ in range(6)]
    for i, x in enumerate(cs):
        x.send("tls-policy-verify" if i % 2 else "tls-policy", "dane.sts.example")
    answers = [x.read() for x in cs]
    for x in cs:
        x.close()
    check(answers == ["OK dane", "OK dane-only protocols=>=TLSv1.2"] * 3, "DANE: dane / dane-only, never secure")
    check(len(re.findall(r"tlspolicy: dane\.sts\.example: lookup:", d.text()[mark:])) == 1,
          "six concurrent lookups of one domain: one evaluation")

    # the default tlspolicy_postfix_dane = yes: a signed domain without a
    # policy is left to Postfix's dane level on tls-policy; tls-policy-none
    # (postern-notls, level none: no DANE of its own) answers DANE itself
    check(c.ask("tls-policy", "danenp2.sts.example") == "NOTFOUND ", "default: signed, no policy, tls-policy -> NOTFOUND")
    check(c.ask("tls-policy-none", "danenp2.sts.example") == "OK dane", "default: the same on tls-policy-none -> dane")
    check(c.ask("tls-policy-none", "dane.sts.example") == "OK dane", "tls-policy-none: an enforce policy with DANE -> dane")
    check(c.ask("tls-policy-none", "enforce.sts.example") == secure, "tls-policy-none: an enforce policy -> secure")

    # testing: not enforced, logged; none: as no policy
    mark = len(d.text())
    check(c.ask("tls-policy", "testing.plain.example") == "NOTFOUND ", "testing -> NOTFOUND")
    check(d.wait_log(r"testing\.plain\.example: lookup: NOTFOUND .*mode testing: not enforced", mark) is not None,
          "testing not enforced is logged")
    check(c.ask("tls-policy", "none.plain.example") == "NOTFOUND ", "mode none -> NOTFOUND")
    check(c.ask("tls-policy-encrypt", "none.plain.example") == "OK encrypt protocols=>=TLSv1.2",
          "mode none on an enforcing map -> encrypt")

    # no policy: the enforcing maps still require TLS
    check(c.ask("tls-policy", "notlsa.sts.example") == "NOTFOUND ", "no policy -> NOTFOUND")
    check(c.ask("tls-policy-none", "notlsa.sts.example") == "NOTFOUND ", "no policy, no TLSA, tls-policy-none -> NOTFOUND")
    check(c.ask("tls-policy-none", "testing.plain.example") == "NOTFOUND ", "testing, tls-policy-none -> NOTFOUND")
    check(c.ask("tls-policy-encrypt13", "notlsa.sts.example") == "OK encrypt protocols=>=TLSv1.3",
          "no policy, encrypt13 map -> encrypt TLSv1.3")
    check(c.ask("tls-policy-verify", "notlsa.sts.example") == "OK verify protocols=>=TLSv1.2",
          "no policy, verify map -> verify")

    # refused policies: the domain has none
    for dom, why in (("redir", "redirect refused"), ("html", "Content-Type is not text/plain"),
                     ("big", "larger than 64 KiB"), ("badage", "max_age is not a number")):
        mark = len(d.text())
        r = c.ask("tls-policy", dom + ".plain.example")
        check(r == "NOTFOUND " and d.wait_log(r"%s\.plain\.example: lookup: NOTFOUND.*fetch failed.*%s" %
                                               (dom, re.escape(why)), mark) is not None,
              "%s policy refused (%s)" % (dom, why))

    # a connection closed while its answer is pending is never written to;
    # the evaluation goes on for the one still waiting (the policy server
    # never answers: the fetch times out, the domain never had a policy)
    mark = len(d.text())
    x = Client(d.sock)
    x.send("tls-policy", "slow.plain.example")
    y = Client(d.sock)
    y.send("tls-policy", "slow.plain.example")
    time.sleep(0.1)  # both requests are read before one client leaves
    x.close()
    check(y.read() == "NOTFOUND " and d.wait_log(r"slow\.plain\.example: lookup: NOTFOUND.*fetch failed.*timeout",
                                                 mark) is not None,
          "a waiter that leaves: the other gets its answer (fetch timeout: no policy)")
    y.close()

    # requests sent after one that must wait (a domain not asked before)
    # are answered after it, in order
    c.s.sendall(netstring(b"tls-policy-encrypt split.sts.example") +
                netstring(b"tls-policy-verify13 notlsa.sts.example") + netstring(b"tls-policy .x.example"))
    check([c.read(), c.read(), c.read()] == ["OK encrypt protocols=>=TLSv1.2", "OK verify protocols=>=TLSv1.3",
                                             "NOTFOUND "], "pipelined requests behind a pending one, in order")

    # keys that are not bare domains
    check(c.ask("tls-policy", ".enforce.sts.example") == "NOTFOUND ", ".parent probe -> NOTFOUND")
    check(c.ask("tls-policy", "[mx1.enforce.sts.example]:25") == "NOTFOUND ", "[host]:port on tls-policy -> NOTFOUND")
    check(c.ask("tls-policy-none", "[mx1.enforce.sts.example]:25") == "NOTFOUND ",
          "[host]:port on tls-policy-none -> NOTFOUND")
    check(c.ask("tls-policy-verify13", "[mx1.enforce.sts.example]") == "OK verify protocols=>=TLSv1.3",
          "[host] on an enforcing map -> the account's level")
    r = c.ask("tls-policy-bogus", "enforce.sts.example")
    check(r is not None and r.startswith("PERM ") and "tls-policy-verify13" in r and "tls-policy-none" in r,
          "unknown map name -> PERM, names accepted")

    # an expired policy whose refetch fails defers
    check(c.ask("tls-policy", "flaky.plain.example") == "OK secure match=mx.flaky.plain.example servername=hostname",
          "policy with max_age 0 enforced when fetched")
    r = c.ask("tls-policy", "flaky.plain.example")
    check(r is not None and r.startswith("TEMP "), "expired policy + failed refetch -> TEMP (%s)" % r)

    # malformed netstrings close the connection; the daemon goes on
    for bad in (b"abc:", b"5:hello!", b"99999:"):
        x = Client(d.sock)
        x.s.sendall(bad)
        check(x.read() is None, "malformed %r: connection closed" % bad)
        x.close()
    c.close()
    c = Client(d.sock)
    check(c.ask("tls-policy", "enforce.sts.example") == secure, "the daemon answers after malformed input")

    # background refresh: a new TXT id is fetched again; a TXT record that
    # disappears does not cancel the cached policy
    check(c.ask("tls-policy", "rot.plain.example") == "OK secure match=mx1.rot.plain.example servername=hostname",
          "rot: first policy")
    check(c.ask("tls-policy", "gone.plain.example") == "OK secure match=mx.gone.plain.example servername=hostname",
          "gone: policy")
    mark = len(d.text())
    edit_zone(lambda z: z.replace('id=r1"', 'id=r2"').replace('_mta-sts.gone 0 TXT "v=STSv1; id=g1"\n', ""))
    deadline = time.time() + 20 * SLOW
    r = None
    while time.time() < deadline:
        r = c.ask("tls-policy", "rot.plain.example")
        g = c.ask("tls-policy", "gone.plain.example")
        if r.endswith("mx2.rot.plain.example servername=hostname") and \
           re.search(r"gone\.plain\.example: refresh: secure .*NXDOMAIN", d.text()[mark:]):
            break
        time.sleep(0.2)
    check(r == "OK secure match=mx2.rot.plain.example servername=hostname", "TXT id changed -> policy refetched")
    check(re.search(r"rot\.plain\.example: refresh: .*TXT id=r2.*fetched policy", d.text()[mark:]) is not None,
          "the refetch happened in the background")
    check(g == "OK secure match=mx.gone.plain.example servername=hostname" and
          re.search(r"gone\.plain\.example: refresh: secure .*NXDOMAIN", d.text()[mark:]) is not None,
          "TXT gone -> cached policy kept")

    # a cached answer is served while the DNS server is stopped
    check(c.ask("tls-policy", "enforce.sts.example") == secure, "enforce before stopping DNS")
    os.kill(nsd_pid(), signal.SIGSTOP)
    try:
        mark = len(d.text())
        check(c.ask("tls-policy", "enforce.sts.example") == secure, "answered while DNS is stopped")
        check(d.wait_log(r"tls-policy enforce\.sts\.example: cached, ", mark) is not None, "... from memory")
    finally:
        os.kill(nsd_pid(), signal.SIGCONT)

    # strict testing and one evaluation at most, by a reload
    mark = len(d.text())
    d.write_conf("mtasts_strict_testing = yes\ntlspolicy_max_jobs = 1\n")
    d.proc.send_signal(signal.SIGHUP)
    check(d.wait_log(r"configuration reloaded", mark) is not None, "SIGHUP reloads")
    x = Client(d.sock)
    x.send("tls-policy", "slow.plain.example")  # in memory no more: evaluated again, slowly
    time.sleep(0.1)
    r = c.ask("tls-policy-encrypt", "twice.sts.example")
    check(r is not None and r.startswith("TEMP ") and "in flight" in r,
          "beyond tlspolicy_max_jobs -> TEMP (%s)" % r)
    check(x.read() == "NOTFOUND ", "the evaluation in flight still answers")
    x.close()
    check(c.ask("tls-policy", "testing.plain.example") ==
          "OK secure match=mx.testing.plain.example servername=hostname", "strict testing -> enforced")
    c.close()

    # tlspolicy_postfix_dane = yes: on tls-policy a signed domain without a
    # policy is left to Postfix's dane level, TLSA not asked (one round
    # trip); an enforcing map asks TLSA, once per MX host
    mark = len(d.text())
    d.write_conf("tlspolicy_postfix_dane = yes\n")
    d.proc.send_signal(signal.SIGHUP)
    check(d.wait_log(r"configuration reloaded", mark) is not None, "SIGHUP reloads (postfix_dane)")
    c = Client(d.sock)
    c.ask("tls-policy-encrypt", "notlsa.sts.example")  # the signed zone's keys in libunbound's cache
    n = dns_counts()
    check(c.ask("tls-policy", "danenp3.sts.example") == "NOTFOUND ", "postfix_dane: signed, no policy -> NOTFOUND")
    dd = dns_delta(n)
    check(one_trip(dd), "postfix_dane: a miss is TXT+MX, no TLSA (%s)" % dd)
    n = dns_counts()
    check(c.ask("tls-policy-encrypt", "danenp3.sts.example") == "OK dane-only protocols=>=TLSv1.2",
          "postfix_dane: the enforcing map still gets dane-only")
    dd = dns_delta(n)
    check(dd["TLSA"] >= 1 and dd["TXT"] == 0 and dd["MX"] == 0, "the enforcing map asked TLSA, not TXT or MX (%s)" % dd)
    n = dns_counts()
    check(c.ask("tls-policy-verify", "danenp4.sts.example") == "OK dane-only protocols=>=TLSv1.2",
          "postfix_dane: a second domain on the same MX host -> dane-only")
    dd = dns_delta(n)
    check(one_trip(dd), "the MX host's TLSA not asked again for a second domain (%s)" % dd)
    check(c.ask("tls-policy", "danenp4.sts.example") == "NOTFOUND ",
          "postfix_dane: tls-policy NOTFOUND though DANE is known")
    check(c.ask("tls-policy", "dane.sts.example") == "OK dane", "postfix_dane: an enforce policy with DANE -> dane")
    # both kinds of map asking at once (sharing the evaluation, or not)
    cs = [Client(d.sock) for _ in range(4)]
    for i, x in enumerate(cs):
        x.send("tls-policy-encrypt" if i % 2 else "tls-policy", "danenp.sts.example")
    answers = [x.read() for x in cs]
    for x in cs:
        x.close()
    check(answers == ["NOTFOUND ", "OK dane-only protocols=>=TLSv1.2"] * 2,
          "postfix_dane: concurrent plain and enforcing lookups (%s)" % answers)
    # tls-policy-none asks TLSA for a signed domain without a policy, where
    # tls-policy does not (each domain on an MX host of its own)
    n = dns_counts()
    check(c.ask("tls-policy", "danenp5.sts.example") == "NOTFOUND ", "postfix_dane: danenp5 on tls-policy -> NOTFOUND")
    dd = dns_delta(n)
    check(one_trip(dd), "tls-policy: TXT+MX, no TLSA (%s)" % dd)
    n = dns_counts()
    check(c.ask("tls-policy-none", "danenp6.sts.example") == "OK dane", "postfix_dane: danenp6 on tls-policy-none -> dane")
    dd = dns_delta(n)
    check(dd["TLSA"] >= 1 and dd["TXT"] >= 1 and dd["MX"] >= 1, "tls-policy-none: TXT, MX and TLSA asked (%s)" % dd)
    # a domain in memory without TLSA (asked on tls-policy): evaluated again for tls-policy-none
    n = dns_counts()
    check(c.ask("tls-policy-none", "danenp5.sts.example") == "OK dane",
          "tls-policy-none after tls-policy: dane, not the plain map's NOTFOUND")
    dd = dns_delta(n)
    check(dd["TLSA"] >= 1 and dd["TXT"] == 0, "... TLSA asked then, not TXT again (%s)" % dd)
    check(c.ask("tls-policy", "danenp5.sts.example") == "NOTFOUND ", "... and tls-policy still NOTFOUND")
    c.close()

    # tlspolicy_postfix_dane = no (a tls-policy transport below the dane
    # level): tls-policy asks TLSA and answers dane itself
    mark = len(d.text())
    d.write_conf("tlspolicy_postfix_dane = no\n")
    d.proc.send_signal(signal.SIGHUP)
    check(d.wait_log(r"configuration reloaded", mark) is not None, "SIGHUP reloads (postfix_dane off)")
    c = Client(d.sock)
    n = dns_counts()
    check(c.ask("tls-policy", "danenp7.sts.example") == "OK dane", "postfix_dane off: signed, no policy -> dane")
    dd = dns_delta(n)
    check(dd["TLSA"] >= 1, "postfix_dane off: TLSA asked on tls-policy (%s)" % dd)
    c.close()

    # statistics on demand, and at stop; a restart keeps the policies (the store)
    mark = len(d.text())
    d.proc.send_signal(signal.SIGUSR1)
    check(d.wait_log(r"tlspolicy: stats: lookups=\d+ hits=", mark) is not None, "SIGUSR1 logs the statistics")
    mark = len(d.text())
    check(d.stop() == 0, "daemon stops cleanly")
    m = re.search(r"tlspolicy: stats: lookups=(\d+) hits=(\d+) misses=(\d+) temp=(\d+) testing-not-enforced=(\d+)",
                  d.text()[mark:])
    check(m is not None and int(m.group(2)) >= 2 and int(m.group(4)) >= 2 and int(m.group(5)) >= 1 and
          re.search(r"busy=1 ", d.text()[mark:]) is not None,
          "stats line: hits, temp, testing-not-enforced, busy counted")
    mark = len(d.text())
    d.start()
    c = Client(d.sock)
    check(c.ask("tls-policy", "enforce.sts.example") == secure, "enforce after a restart")
    check(d.wait_log(r"enforce\.sts\.example: lookup: secure .*cached policy id=20240101T000000", mark) is not None,
          "... from the stored policy, no fetch")
    c.close()
    check(d.stop() == 0, "daemon stops cleanly (valgrind clean when wrapped)")
    if FAILED or os.environ.get("TLSPOLICY_TEST_LOG"):
        sys.stderr.write(d.text()[-30000:])


main()
