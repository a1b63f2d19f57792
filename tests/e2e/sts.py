#!/usr/bin/python3
"""MTA-STS and DANE end to end: a real Postfix, real DNS, real policies (issue 7).

Run by run.sh inside private network and mount namespaces (loopback is the
only network; /etc/resolv.conf is replaced for this process tree alone).
Made here, fresh each run:

  nsd       127.0.8.1:53    authoritative for mtasts.example (unsigned) and
                            dane.example (signed by ldns-signzone; its DS is
                            the trust anchor)
  unbound   127.0.0.53:53   validating resolver with stub zones to nsd and
                            that trust anchor; /etc/resolv.conf names it with
                            `options trust-ad` (glibc strips the AD bit
                            otherwise), for Postfix's DNSSEC (DANE) lookups
  https     127.0.8.30:443  tests/sts/https-server.py: the policy files of
                            mta-sts.DOMAIN, certificate from the test CA
  sinks     port 25         tests/e2e/sink.py
            127.0.8.21      good: test-CA certificate for the MX names, the
                            key of good.dane.example's TLSA record
            127.0.8.22      wrong: test-CA certificate for another name
            127.0.8.23      plain: no STARTTLS
            127.0.8.24      sender: no STARTTLS, where bounces arrive
  postern-hookd             SASL, policy and the TLS policy socketmap, with
                            dns_forward = unbound and the test CA for the
                            policy fetches (under valgrind unless E2E_VALGRIND=0)
  Postfix                   a private instance configured by postern
                            postfix-config --apply: smtp_tls_policy_maps,
                            smtp_dns_support_level = dnssec,
                            smtp_tls_security_level = dane (Postfix's own
                            DANE, validated through unbound's AD bit);
                            recipient domains routed by their MX records

postern-hookd runs with the default tlspolicy_postfix_dane = yes: tls-policy
answers NOTFOUND for a DANE domain without an MTA-STS policy, and Postfix's
dane level must enforce DANE itself (nomatch.dane.example below);
postern-notls (the account in TLS mode none, level none) asks
tls-policy-none, which answers dane there.

Recipient domains:
  enforce.mtasts.example    MTA-STS enforce, mx *.enforce.mtasts.example -> good
  wrongcert.mtasts.example  MTA-STS enforce -> wrong (certificate for another name)
  testing.mtasts.example    MTA-STS testing -> wrong
  nopolicy.mtasts.example   no policy -> plain
  good.dane.example         signed, TLSA matches the good sink's key, no
                            MTA-STS policy -> good
  bad.dane.example          signed, TLSA does not match; MTA-STS enforce whose
                            mx pattern and certificate would accept -> good
  nomatch.dane.example      signed, TLSA does not match, no MTA-STS policy
                            (tls-policy: NOTFOUND) -> good
  sender.mtasts.example     the senders' domain -> sender

usage: sts.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import re
import shutil
import socket
import subprocess

import e2elib
from e2elib import (CLI, E2E, SRC, check, cli, hookd_cmd, listening, maillog, procs, run, sink_messages, start,
                    submit, wait_for, with_subject)

AUTH_PORT = 10001  # policy on +1, TLS policy on +2 (postfix-config --hookd)
NSD, RESOLVER, HTTPS = "127.0.8.1", "127.0.0.53", "127.0.8.30"
SINKS = {"good": "127.0.8.21", "wrong": "127.0.8.22", "plain": "127.0.8.23", "sender": "127.0.8.24"}

W, DB, PF, CERTS = e2elib.init("e2e-sts", poll=0.1)
DNS = os.path.join(W, "dns")
hookd = None


# ---------------------------------------------------------------- certificates

def leaf(name, sans):
    """A certificate from the test CA of certs.sh."""
    q = {"cwd": CERTS}
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + sans[0],
        "-keyout", name + ".key", "-out", name + ".csr", **q)
    with open(os.path.join(CERTS, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join("DNS:" + s for s in sans))
    run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", **q)
    os.chmod(os.path.join(CERTS, name + ".key"), 0o644)


def spki_sha256(pem):
    """The TLSA 3 1 1 data of a certificate: SHA-256 of its public key."""
    der = subprocess.run("openssl x509 -in '%s' -noout -pubkey | openssl pkey -pubin -outform DER" % pem, shell=True,
                         check=True, capture_output=True).stdout
    return subprocess.run(["sha256sum"], input=der, check=True, capture_output=True).stdout.decode().split()[0]


def make_certs():
    run("sh", os.path.join(E2E, "certs.sh"), CERTS)
    leaf("good", ["mx.enforce.mtasts.example", "mx.good.dane.example", "mx.bad.dane.example",
                  "mx.nomatch.dane.example"])
    leaf("wrong", ["wrong.example"])
    leaf("mtasts", ["mta-sts.%s" % d for d in ("enforce.mtasts.example", "wrongcert.mtasts.example",
                                               "testing.mtasts.example", "bad.dane.example")])


# ---------------------------------------------------------------- DNS

def make_zones():
    os.makedirs(DNS)
    os.chmod(DNS, 0o755)
    good = spki_sha256(os.path.join(CERTS, "good.pem"))
    other = spki_sha256(os.path.join(CERTS, "wrong.pem"))
    soa = "@ SOA ns.{0}. admin.{0}. 1 3600 600 86400 300\n@ NS ns.{0}.\nns A %s\n" % NSD
    with open(os.path.join(DNS, "mtasts.example.zone"), "w") as f:
        f.write("$ORIGIN mtasts.example.\n$TTL 300\n" + soa.format("mtasts.example") + """
enforce MX 10 mx.enforce
mx.enforce A {good}
_mta-sts.enforce TXT "v=STSv1; id=enforce1"
mta-sts.enforce A {https}
wrongcert MX 10 mx.wrongcert
mx.wrongcert A {wrong}
_mta-sts.wrongcert TXT "v=STSv1; id=wrongcert1"
mta-sts.wrongcert A {https}
testing MX 10 mx.testing
mx.testing A {wrong}
_mta-sts.testing TXT "v=STSv1; id=testing1"
mta-sts.testing A {https}
nopolicy MX 10 mx.nopolicy
mx.nopolicy A {plain}
sender MX 10 mx.sender
mx.sender A {sender}
""".format(https=HTTPS, **SINKS))
    with open(os.path.join(DNS, "dane.example.zone"), "w") as f:
        f.write("$ORIGIN dane.example.\n$TTL 300\n" + soa.format("dane.example") + """
good MX 10 mx.good
mx.good A {good}
_25._tcp.mx.good TLSA 3 1 1 {goodhash}
bad MX 10 mx.bad
mx.bad A {good}
_25._tcp.mx.bad TLSA 3 1 1 {otherhash}
_mta-sts.bad TXT "v=STSv1; id=bad1"
mta-sts.bad A {https}
nomatch MX 10 mx.nomatch
mx.nomatch A {good}
_25._tcp.mx.nomatch TLSA 3 1 1 {otherhash}
""".format(https=HTTPS, goodhash=good, otherhash=other, **SINKS))
    key = run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.example", cwd=DNS).strip()
    run("ldns-signzone", "-n", "-f", "dane.example.zone.signed", "dane.example.zone", key, cwd=DNS)
    with open(os.path.join(DNS, key + ".ds")) as f, open(os.path.join(DNS, "ta.ds"), "w") as out:
        out.write([l for l in f if not l.startswith(";")][0])
    os.chmod(os.path.join(DNS, "ta.ds"), 0o644)


def start_dns():
    with open(os.path.join(DNS, "nsd.conf"), "w") as f:
        f.write("""server:
	ip-address: {nsd}
	port: 53
	username: ""
	chroot: ""
	zonesdir: "{d}"
	database: ""
	zonelistfile: "{d}/zone.list"
	xfrdfile: "{d}/xfrd.state"
	pidfile: "{d}/nsd.pid"
	logfile: "{d}/nsd.log"
	server-count: 1
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: mtasts.example
	zonefile: mtasts.example.zone
zone:
	name: dane.example
	zonefile: dane.example.zone.signed
""".format(nsd=NSD, d=DNS))
    start(["nsd", "-d", "-c", os.path.join(DNS, "nsd.conf")], "nsd", lambda: listening(NSD, 53, udp=True),
          "nsd.stderr")
    with open(os.path.join(DNS, "unbound.conf"), "w") as f:
        f.write("""server:
	interface: {res}
	port: 53
	do-ip6: no
	username: ""
	chroot: ""
	directory: "{d}"
	pidfile: ""
	use-syslog: no
	logfile: "{d}/unbound.log"
	verbosity: 1
	val-log-level: 2
	num-threads: 1
	# the stub zones are on loopback, which unbound does not ask by default
	do-not-query-localhost: no
	qname-minimisation: no
	trust-anchor-file: "{d}/ta.ds"
remote-control:
	control-enable: no
stub-zone:
	name: "mtasts.example"
	stub-addr: {nsd}
stub-zone:
	name: "dane.example"
	stub-addr: {nsd}
""".format(res=RESOLVER, nsd=NSD, d=DNS))
    start(["unbound", "-d", "-c", os.path.join(DNS, "unbound.conf")], "unbound",
          lambda: listening(RESOLVER, 53, udp=True), "unbound.stderr")
    # The resolver of this mount namespace, for Postfix; trust-ad keeps the AD bit.
    with open(os.path.join(W, "resolv.conf"), "w") as f:
        f.write("nameserver %s\noptions trust-ad\n" % RESOLVER)
    run("mount", "--bind", os.path.join(W, "resolv.conf"), "/etc/resolv.conf")


# ---------------------------------------------------------------- the other servers

POLICIES = {
    "enforce.mtasts.example": "version: STSv1\nmode: enforce\nmx: *.enforce.mtasts.example\nmax_age: 86400\n",
    "wrongcert.mtasts.example": "version: STSv1\nmode: enforce\nmx: mx.wrongcert.mtasts.example\nmax_age: 86400\n",
    "testing.mtasts.example": "version: STSv1\nmode: testing\nmx: mx.testing.mtasts.example\nmax_age: 86400\n",
    "bad.dane.example": "version: STSv1\nmode: enforce\nmx: mx.bad.dane.example\nmax_age: 86400\n",
}


def start_https():
    pdir = os.path.join(W, "policies")
    os.makedirs(pdir)
    for dom, body in POLICIES.items():
        with open(os.path.join(pdir, dom), "w") as f:
            f.write(body)
    start(["/usr/bin/python3", os.path.join(SRC, "tests", "sts", "https-server.py"), HTTPS, "443",
           os.path.join(CERTS, "mtasts.pem"), os.path.join(CERTS, "mtasts.key"), pdir], "https server",
          lambda: listening(HTTPS, 443), "https.log")


def start_sinks():
    for name, addr in SINKS.items():
        cmd = ["/usr/bin/python3", os.path.join(E2E, "sink.py"), "--host", addr, "--port", "25", "--outdir",
               os.path.join(W, "sink-" + name)]
        if name in ("good", "wrong"):
            cmd += ["--cert", os.path.join(CERTS, name + ".pem"), "--key", os.path.join(CERTS, name + ".key")]
        start(cmd, "sink " + name, lambda a=addr: listening(a, 25), "sink-%s.log" % name)


def hookd_conf():
    conf = os.path.join(W, "hookd.conf")
    with open(conf, "w") as f:
        f.write("database = {db}\nkey_file = {w}/db/master.key\nuser = root\n"
                "auth_listen = inet:127.0.0.1:{a}\npolicy_listen = inet:127.0.0.1:{p}\n"
                "tlspolicy_listen = inet:127.0.0.1:{t}\n"
                "dns_forward = {res}\ndns_trust_anchor_file = {d}/ta.ds\nmtasts_ca_file = {c}/ca.pem\n"
                .format(db=DB, w=W, a=AUTH_PORT, p=AUTH_PORT + 1, t=AUTH_PORT + 2, res=RESOLVER, d=DNS, c=CERTS))
    return conf


def start_hookd(conf):
    global hookd
    hookd = start(hookd_cmd(conf), "postern-hookd",
                  lambda: all(listening("127.0.0.1", AUTH_PORT + i) for i in range(3)), "hookd.log", 120)
    procs.remove(hookd)


def start_postfix():
    run("sh", os.path.join(E2E, "postfix-instance.sh"), PF, CERTS, "write")
    etc = os.path.join(PF, "etc")
    run(CLI, "postfix-config", "--hookd", "inet:127.0.0.1:%d" % AUTH_PORT, "--apply", etc)
    # Host addresses from DNS too (the base instance resolves by /etc/hosts);
    # Postfix's DNSSEC probe asks a signed test zone (there is no root here):
    # it warns "DNSSEC validation may be unavailable" when the AD bit is missing.
    run("postconf", "-c", etc, "-e", "smtp_host_lookup=dns", "dnssec_probe=ns:dane.example")
    r = subprocess.run([CLI, "postfix-check", "--config-dir", etc, "--hookd-config", os.path.join(W, "hookd.conf")],
                       capture_output=True, text=True)
    check(r.returncode == 0 and "0 error(s), 0 warning(s)" in r.stdout,
          "postfix-config --apply with the TLS policy maps passes postfix-check against hookd.conf: " + r.stdout)
    check(run("postconf", "-c", etc, "-h", "smtp_tls_security_level").strip() == "dane",
          "postfix-config wrote smtp_tls_security_level = dane")
    check(run("postconf", "-c", etc, "-P", "postern-notls/unix/smtp_tls_policy_maps").strip().endswith(
        ":tls-policy-none"), "postern-notls asks tls-policy-none")
    run("sh", os.path.join(E2E, "postfix-instance.sh"), PF, CERTS, "start")
    wait_for(lambda: listening("127.0.0.1", 587), "Postfix on 587")


# ---------------------------------------------------------------- looking at the results

def log_for(rcpt, status):
    """Postfix's delivery lines for rcpt with this status."""
    return re.findall(r"^.*: to=<%s>.* status=%s .*$" % (re.escape(rcpt), status), maillog(), re.M)


def queued(rcpt):
    out = subprocess.run(["postqueue", "-c", os.path.join(PF, "etc"), "-j"], capture_output=True, text=True).stdout
    return any(r.get("address") == rcpt for line in out.splitlines() if line.strip()
               for r in json.loads(line).get("recipients", []))


def served(mapname, key):
    """postern-hookd's own answer over its socketmap (netstrings), as Postfix asks it."""
    req = ("%s %s" % (mapname, key)).encode()
    with socket.create_connection(("127.0.0.1", AUTH_PORT + 2), timeout=30) as s:
        s.sendall(b"%d:%s," % (len(req), req))
        buf = b""
        while not re.match(rb"^\d+:", buf) or len(buf) < buf.index(b":") + 2 + int(buf[:buf.index(b":")]):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    n = buf.index(b":")
    return buf[n + 1:n + 1 + int(buf[:n])].decode()


def answer(domain, mapname):
    """What postern-hookd answers for domain on mapname, which `postern tls policy` must agree with
    (it evaluates on the daemon's database, the policy cache)."""
    daemon = served(mapname, domain)
    d = json.loads(subprocess.run([CLI, "--db", DB, "--key-file", os.path.join(W, "db", "master.key"), "--json",
                                   "tls", "policy", domain, "--map", mapname,
                                   "--hookd-config", os.path.join(W, "hookd.conf")],
                                  capture_output=True, text=True).stdout)
    a = d["answers"][0]
    shell = "%s %s" % (a["result"], a["answer"] or "")
    check(shell == daemon or (a["result"] == "TEMP" and daemon.startswith("TEMP ")),
          "postern tls policy %s --map %s agrees with the daemon: %r / %r" % (domain, mapname, shell, daemon))
    return daemon


# ---------------------------------------------------------------- the cases

def scenarios(keys):
    def send(acct, rcpt, subject):
        check(submit(keys[acct], "%s@sender.mtasts.example" % acct, rcpt, subject) == (250, ""),
              "%s: accepted from '%s' for %s" % (subject, acct, rcpt))

    # All submitted first, then awaited: the deliveries run in parallel.
    send("opp", "a@enforce.mtasts.example", "sts enforce")
    send("opp", "b@wrongcert.mtasts.example", "sts wrongcert")
    send("nls", "c@enforce.mtasts.example", "sts none-account")
    send("enf", "d@nopolicy.mtasts.example", "sts enforced-nopolicy")
    send("opp", "e@bad.dane.example", "sts dane-mismatch")
    send("opp", "f@good.dane.example", "sts dane-match")
    send("opp", "g@testing.mtasts.example", "sts testing")
    send("opp", "h@nomatch.dane.example", "sts dane-nomatch")
    send("nls", "i@good.dane.example", "sts none-dane-match")
    send("nls", "j@nomatch.dane.example", "sts none-dane-nomatch")
    send("nls", "k@testing.mtasts.example", "sts none-testing")

    # An opportunistic account to an enforce domain: verified TLS to the matching MX.
    got = wait_for(lambda: with_subject("good", "sts enforce"), "delivery to enforce.mtasts.example")
    check(len(got) == 1 and got[0][0]["tls"] is True, "enforce: delivered once, over TLS, to the matching MX")
    check(re.search(r"postfix/smtp\[\d+\]: Verified TLS connection established to mx\.enforce\.mtasts\.example"
                    r"\[127\.0\.8\.21\]:25", maillog()) is not None,
          "enforce: Postfix verified the MX certificate (the map's secure answer)")
    check(answer("enforce.mtasts.example", "tls-policy") ==
          "OK secure match=mx.enforce.mtasts.example servername=hostname",
          "enforce: the answer lists the matching MX host by name")

    # The same kind of domain whose MX presents a certificate for another name: deferred, nothing delivered.
    lines = wait_for(lambda: log_for("b@wrongcert.mtasts.example", "deferred"), "wrongcert deferral")
    check(bool(lines), "wrongcert: deferred: %s" % (lines[:1],))
    # (the testing domain's message goes there, in parallel: only this one must not)
    check(not with_subject("wrong", "sts wrongcert"), "wrongcert: the wrong-certificate MX got no message of it")
    check(queued("b@wrongcert.mtasts.example"), "wrongcert: still in the queue")
    check(answer("wrongcert.mtasts.example", "tls-policy").startswith("OK secure match=mx.wrongcert.mtasts.example"),
          "wrongcert: the answer was secure")

    # A none-mode account to an enforce domain: still TLS (its transport asks tls-policy).
    got = wait_for(lambda: with_subject("good", "sts none-account"), "the none-mode account's delivery")
    check(len(got) == 1 and got[0][0]["tls"] is True, "none-mode account to an enforce domain: delivered over TLS")
    check(re.search(r"postfix/postern-notls/smtp\[\d+\]: \w+: to=<c@enforce\.mtasts\.example>.*status=sent",
                    maillog()) is not None, "none-mode account: through its postern-notls transport")

    # An enforced account to a domain without a policy: encrypt still required; no STARTTLS -> bounced.
    bounce = wait_for(lambda: [m for m in sink_messages("sender") if "d@nopolicy.mtasts.example" in m[1]],
                      "the bounce for nopolicy")
    check(len(bounce) == 1 and "TLS required but not supported" in bounce[0][1],
          "enforced account, no policy: bounced with 'TLS required but not supported'")
    check(not with_subject("plain", "sts enforced-nopolicy"), "enforced account, no policy: nothing in the clear")
    check(answer("nopolicy.mtasts.example", "tls-policy-encrypt") == "OK encrypt protocols=>=TLSv1.2",
          "enforced account, no policy: the map answers encrypt")

    # DANE: a matching TLSA record delivers, verified by DANE ...  (no MTA-STS
    # policy: tls-policy leaves DANE to the default transport's dane level)
    got = wait_for(lambda: with_subject("good", "sts dane-match"), "delivery to good.dane.example")
    check(len(got) == 1 and got[0][0]["tls"] is True, "DANE match: delivered over TLS")
    check(re.search(r"postfix/smtp\[\d+\]: Verified TLS connection established to mx\.good\.dane\.example",
                    maillog()) is not None, "DANE match: verified by the default smtp transport")
    check(answer("good.dane.example", "tls-policy") == "NOTFOUND ",
          "DANE match, no policy: tls-policy NOTFOUND (DANE left to Postfix's dane level)")
    check(answer("good.dane.example", "tls-policy-verify") == "OK dane-only protocols=>=TLSv1.2",
          "DANE match: dane-only on an enforcing map")
    # ... one that does not match is not delivered, though the MTA-STS policy would accept the MX.
    lines = wait_for(lambda: log_for("e@bad.dane.example", "deferred"), "bad.dane.example deferral")
    check(bool(lines), "DANE mismatch: deferred: %s" % (lines[:1],))
    check(not with_subject("good", "sts dane-mismatch") and queued("e@bad.dane.example"),
          "DANE mismatch: not delivered, still in the queue")
    check(re.search(r"mx\.bad\.dane\.example\[127\.0\.8\.21\]:25: num=\d+:no matching DANE TLSA records", maillog())
          is not None, "DANE mismatch: Postfix checked the TLSA records")
    check(answer("bad.dane.example", "tls-policy") == "OK dane", "DANE mismatch: dane, not the policy's secure")
    check(answer("bad.dane.example", "tls-policy-verify") == "OK dane-only protocols=>=TLSv1.2",
          "DANE mismatch: dane-only on an enforcing map")

    # DANE without an MTA-STS policy whose TLSA does not match: tls-policy says NOTFOUND,
    # Postfix's own dane level must refuse the MX (at may it would deliver, unverified).
    lines = wait_for(lambda: log_for("h@nomatch.dane.example", "deferred"), "nomatch.dane.example deferral")
    check(bool(lines) and re.search(r"postfix/smtp\[\d+\]:", lines[0]) is not None,
          "DANE mismatch, no policy, opportunistic account: deferred by the default transport: %s" % (lines[:1],))
    check(not with_subject("good", "sts dane-nomatch") and queued("h@nomatch.dane.example"),
          "DANE mismatch, no policy: not delivered, still in the queue")
    check(re.search(r"postfix/smtp\[\d+\]: .*mx\.nomatch\.dane\.example\[127\.0\.8\.21\]:25: "
                    r"num=\d+:no matching DANE TLSA records", maillog()) is not None,
          "DANE mismatch, no policy: Postfix's dane level checked the TLSA records itself")
    check(answer("nomatch.dane.example", "tls-policy") == "NOTFOUND ",
          "DANE mismatch, no policy: tls-policy NOTFOUND (left to Postfix)")

    # The account in TLS mode none (postern-notls, level none, map tls-policy-none):
    # DANE still enforced where the domain publishes it ...
    got = wait_for(lambda: with_subject("good", "sts none-dane-match"), "the none-mode account's DANE delivery")
    check(len(got) == 1 and got[0][0]["tls"] is True, "none-mode account, DANE match: delivered over TLS")
    check(re.search(r"postfix/postern-notls/smtp\[\d+\]: Verified TLS connection established to "
                    r"mx\.good\.dane\.example", maillog()) is not None,
          "none-mode account, DANE match: verified, by postern-notls")
    check(answer("good.dane.example", "tls-policy-none") == "OK dane", "none-mode account: tls-policy-none answers dane")
    lines = wait_for(lambda: log_for("j@nomatch.dane.example", "deferred"), "the none-mode account's DANE deferral")
    check(bool(lines) and "postfix/postern-notls/smtp[" in lines[0],
          "none-mode account, DANE mismatch: deferred by postern-notls: %s" % (lines[:1],))
    check(not with_subject("good", "sts none-dane-nomatch") and queued("j@nomatch.dane.example"),
          "none-mode account, DANE mismatch: not delivered (not in the clear either), still in the queue")
    check(answer("nomatch.dane.example", "tls-policy-none") == "OK dane",
          "none-mode account, DANE mismatch: tls-policy-none answers dane")
    # ... and level none where the domain demands nothing (a testing policy, an MX offering STARTTLS).
    got = wait_for(lambda: with_subject("wrong", "sts none-testing"), "the none-mode account's delivery to testing")
    check(len(got) == 1 and got[0][0]["tls"] is False, "none-mode account, no requirement: delivered without TLS")
    check(answer("testing.mtasts.example", "tls-policy-none") == "NOTFOUND ",
          "none-mode account, no requirement: tls-policy-none NOTFOUND")

    # A testing-mode policy: delivered as opportunistic (to an MX whose certificate is for another name).
    got = wait_for(lambda: with_subject("wrong", "sts testing"), "delivery to testing.mtasts.example")
    check(len(got) == 1 and got[0][0]["tls"] is True, "testing: delivered, over unverified TLS")
    check(answer("testing.mtasts.example", "tls-policy") == "NOTFOUND ", "testing: not enforced (NOTFOUND)")
    # Next-hop forms that are not a bare domain.
    check(served("tls-policy", ".mtasts.example") == "NOTFOUND ", "a parent-domain probe: NOTFOUND")
    check(served("tls-policy", "[127.0.8.21]:25") == "NOTFOUND ", "an IP-literal next hop: NOTFOUND")


def main():
    os.chmod(W, 0o755)
    os.makedirs(os.path.join(W, "db"), mode=0o700)
    for tool in ("nsd", "unbound", "ldns-signzone", "ldns-keygen", "postfix", "postconf"):
        if shutil.which(tool) is None:
            raise SystemExit("%s is missing: run scripts/install-deps.sh --test" % tool)
    conf = hookd_conf()
    make_certs()
    make_zones()
    start_dns()
    start_https()
    start_sinks()
    keys = {}
    for name in ("opp", "enf", "nls"):
        cli("account", "create", name)
    cli("tls", "set", "enf", "--mode", "enforced")
    cli("tls", "set", "nls", "--mode", "none")
    for name in ("opp", "enf", "nls"):
        keys[name] = cli("apikey", "create", name, "main", json_out=True)["key"]
    start_hookd(conf)
    start_postfix()
    scenarios(keys)
    e2elib.stop_hookd(hookd)
    check(re.search(r"warning: .*(dnssec lookups disabled|no requisite library support|DNSSEC)", maillog()) is None,
          "Postfix's dane level had what it needs (no DNSSEC warning in its log)")


e2elib.main(main, lambda: hookd, "hookd.log, dns/, sinks")
