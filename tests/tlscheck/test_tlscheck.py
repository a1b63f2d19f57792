"""`postern tls check` and `tls survey` against the loopback world of
servers.sh: a real nsd, real TLS servers with a test CA.  The expected
categories come from what each server was built to present; the
survey's expected table is computed from the zone servers.sh generated
(TLSCHECK_DIR/survey.map), with the delivery rules of probe.h written
out again here independently."""
import csv
import json
import os
import pty
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

POSTERN = os.environ["POSTERN"]
DNS = os.environ["TLSCHECK_DNS"]
PORT = os.environ["TLSCHECK_PORT"]
CA = os.environ["TLSCHECK_CA"]
DIR = os.environ["TLSCHECK_DIR"]
Z = "tlscheck.example"
TMP = tempfile.mkdtemp(prefix="tlscheck-", dir=os.environ.get("TMPDIR"))
DB = os.path.join(TMP, "postern.db")
NET = ["--port", PORT, "--dns", DNS, "--trust-anchor", "none", "--ca-file", CA, "--timeout", "1"]

# host -> (address, category, reached, STARTTLS, TLS version or None)
HOSTS = {
    "mx-plain": ("127.0.8.2", "no_starttls", True, False, None),
    "mx-valid": ("127.0.8.3", "trusted", True, True, "TLSv1.3"),
    "mx-other": ("127.0.8.4", "name_mismatch", True, True, "TLSv1.3"),
    "a.b.wild": ("127.0.8.5", "name_mismatch", True, True, "TLSv1.3"),
    "mx-expired": ("127.0.8.6", "expired", True, True, "TLSv1.3"),
    "mx-selfsigned": ("127.0.8.7", "unknown_authority", True, True, "TLSv1.3"),
    "mx-tls10": ("127.0.8.8", "weak", True, True, "TLSv1.1"),
    "mx-tls12": ("127.0.8.9", "trusted", True, True, "TLSv1.2"),
    "mx-stall": ("127.0.8.10", "connection", False, False, None),
    "mx-weak": ("127.0.8.11", "weak", True, True, "TLSv1.3"),
    "mx-refused": ("127.0.8.12", "connection", False, False, None),
    "mx-garbage": ("127.0.8.13", "handshake", True, True, None),
    "mx-refuse": ("127.0.8.14", "handshake", True, True, None),
}
IMPLICIT = ("127.0.8.3", "name_mismatch", True, True, "TLSv1.3")  # the valid server, not for that name


def host_info(name):
    short = name[: -len(Z) - 1] if name.endswith("." + Z) else name
    return HOSTS.get(short, IMPLICIT)


def passes(info, setting):
    _, cat, _, _, ver = info
    if setting in ("opportunistic", "enforced"):
        return ver in ("TLSv1.2", "TLSv1.3")
    if setting == "enforced_valid_cert":
        return cat == "trusted"
    return ver == "TLSv1.3"


def outcome(hosts, setting):
    """What Postfix would do: the hosts in preference order."""
    reached = [h for h in hosts if host_info(h)[2]]
    if not reached:
        return "unreachable"
    if setting == "opportunistic":
        return "encrypted" if passes(host_info(reached[0]), setting) else "clear"
    return "delivered" if any(passes(host_info(h), setting) for h in reached) else "blocked"


def run(*args, db=True, check=False, **kw):
    cmd = [POSTERN] + (["--db", DB] if db else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=check, **kw)


def check(domain):
    r = run("tls", "check", domain, *NET, "--json")
    doc = json.loads(r.stdout)
    return r.returncode, doc


SETTINGS = ("opportunistic", "enforced", "enforced_valid_cert", "min_tls13")


class Check(unittest.TestCase):
    def assert_single(self, short, extra=None):
        rc, doc = check(short + "." + Z)
        self.assertEqual(doc["status"], "mx")
        self.assertEqual(len(doc["hosts"]), 1, doc)
        h = doc["hosts"][0]
        info = HOSTS["mx-" + short] if short != "wild" else HOSTS["a.b.wild"]
        self.assertEqual(h["address"], info[0])
        self.assertEqual(h["category"], info[1], h)
        self.assertEqual(h["reached"], info[2])
        self.assertEqual(h["starttls"], info[3])
        self.assertEqual(h["tls"]["version"] if h["tls"] else None, info[4])
        for s in SETTINGS:
            self.assertEqual(doc["settings"][s]["outcome"], outcome([h["name"]], s), (s, doc["settings"][s]))
        self.assertEqual(rc, 0 if doc["settings"]["enforced_valid_cert"]["outcome"] == "delivered" else 1)
        self.assertFalse(doc["mta_sts"]["policy"])
        self.assertFalse(doc["mta_sts"]["dane"])
        return h, doc

    def test_no_starttls(self):
        h, doc = self.assert_single("plain")
        self.assertIn("TLS required but not supported", doc["settings"]["enforced"]["reason"])
        self.assertEqual(doc["settings"]["opportunistic"]["outcome"], "clear")

    def test_valid(self):
        h, doc = self.assert_single("valid")
        self.assertTrue(h["certificate"]["verified"])
        self.assertTrue(h["certificate"]["name_match"])
        self.assertIsNone(h["error"])
        self.assertTrue(h["tls"]["cipher"].startswith("TLS_"))

    def test_other_name_lists_the_names(self):
        h, doc = self.assert_single("other")
        self.assertTrue(h["certificate"]["verified"])
        self.assertEqual(h["certificate"]["names"], ["other.example", "www.other.example"])
        self.assertIn("other.example, www.other.example", doc["settings"]["enforced_valid_cert"]["reason"])

    def test_wildcard_covers_one_label_only(self):
        h, _ = self.assert_single("wild")
        self.assertEqual(h["name"], "a.b.wild." + Z)
        self.assertEqual(h["certificate"]["names"], ["*.wild." + Z])
        self.assertFalse(h["certificate"]["name_match"])

    def test_expired(self):
        h, _ = self.assert_single("expired")
        self.assertIn("expired", h["error"])
        self.assertTrue(h["certificate"]["name_match"])

    def test_selfsigned(self):
        h, _ = self.assert_single("selfsigned")
        self.assertIn("self-signed", h["error"])

    def test_old_tls_only(self):
        h, doc = self.assert_single("tls10")
        self.assertIn("below TLSv1.2", h["error"])
        self.assertIn("below the minimum TLSv1.2", doc["settings"]["enforced"]["reason"])

    def test_tls12_vs_a_tls13_minimum(self):
        h, doc = self.assert_single("tls12")
        self.assertEqual(doc["settings"]["enforced_valid_cert"]["outcome"], "delivered")
        self.assertIn("below the minimum TLSv1.3", doc["settings"]["min_tls13"]["reason"])

    def test_weak_certificate(self):
        h, _ = self.assert_single("weak")
        for what in ("negative serial", "1024-bit", "SHA1"):
            self.assertIn(what, h["error"])

    def test_stall_times_out(self):
        t = time.monotonic()
        h, _ = self.assert_single("stall")
        self.assertLess(time.monotonic() - t, 10)
        self.assertIn("timeout", h["error"])
        self.assertIn("greeting", h["error"])

    def test_refused(self):
        h, _ = self.assert_single("refused")
        self.assertIn("refused", h["error"])

    def test_ipv6_only_host(self):
        # no A record, AAAA ::1: probed over IPv6 (AAAA is asked once IPv4 has nothing to try)
        before = counts().get("::1", 0)
        rc, doc = check("v6." + Z)
        self.assertEqual(len(doc["hosts"]), 1, doc)
        h = doc["hosts"][0]
        self.assertEqual((h["address"], h["category"], h["tls"]["version"]), ("::1", "trusted", "TLSv1.3"), h)
        self.assertEqual(doc["settings"]["enforced_valid_cert"]["outcome"], "delivered")
        self.assertEqual(rc, 0)
        self.assertEqual(counts().get("::1", 0) - before, 1)

    def test_ipv6_after_a_refused_ipv4_address(self):
        # A 127.0.8.12 refuses; the AAAA address ::1 is tried next
        rc, doc = check("dual." + Z)
        h = doc["hosts"][0]
        self.assertEqual((h["address"], h["category"]), ("::1", "trusted"), h)
        self.assertIsNone(h["error"])
        self.assertEqual(rc, 0)

    def test_handshake_failure(self):
        h, doc = self.assert_single("garbage")
        self.assertIn("TLS handshake failed", h["error"])
        self.assertEqual(doc["settings"]["opportunistic"]["outcome"], "clear")
        self.assertIn("TLS handshake failed", doc["settings"]["enforced"]["reason"])
        h, doc = self.assert_single("refuse")
        self.assertIn("STARTTLS refused: 454", h["error"])

    def test_dns_failure(self):
        # nsd is not authoritative for it: REFUSED, the resolver says SERVFAIL
        rc, doc = check("x.elsewhere.example")
        self.assertEqual((rc, doc["status"]), (69, "dns_failure"))
        self.assertIn("MX x.elsewhere.example", doc["error"])

    def test_implicit_mx(self):
        rc, doc = check("implicit." + Z)
        self.assertTrue(doc["implicit_mx"])
        self.assertEqual([h["name"] for h in doc["hosts"]], ["implicit." + Z])
        self.assertEqual(doc["hosts"][0]["category"], "trusted")
        self.assertEqual(rc, 0)

    def test_null_mx_and_nxdomain(self):
        rc, doc = check("nullmx." + Z)
        self.assertEqual((rc, doc["status"], doc["hosts"]), (1, "null_mx", []))
        self.assertIn("does not accept mail", doc["error"])
        rc, doc = check("nothere." + Z)
        self.assertEqual((rc, doc["status"]), (1, "nxdomain"))

    def test_preference_order(self):
        # a stalled first MX: mail goes to the second
        rc, doc = check("backup." + Z)
        self.assertEqual([h["name"] for h in doc["hosts"]], ["mx-stall." + Z, "mx-valid." + Z])
        self.assertEqual(doc["settings"]["enforced_valid_cert"]["host"], "mx-valid." + Z)
        self.assertEqual(rc, 0)
        # a plain first MX: opportunistic sends in the clear, enforced goes on to the second
        rc, doc = check("plainfirst." + Z)
        self.assertEqual(doc["settings"]["opportunistic"]["outcome"], "clear")
        self.assertEqual(doc["settings"]["enforced"]["outcome"], "delivered")
        self.assertEqual(doc["settings"]["enforced"]["host"], "mx-valid." + Z)
        # a name mismatch first, TLS 1.2 second: verify goes on, TLS 1.3 stays with the first
        rc, doc = check("othernamefirst." + Z)
        self.assertEqual(doc["settings"]["enforced_valid_cert"]["host"], "mx-tls12." + Z)
        self.assertEqual(doc["settings"]["min_tls13"]["host"], "mx-other." + Z)

    def test_text_output_and_usage(self):
        r = run("tls", "check", "other." + Z, *NET)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("name mismatch", r.stdout)
        self.assertRegex(r.stdout, r"enforced \+ valid certificate\s+blocked")
        self.assertRegex(r.stdout, r"opportunistic\s+encrypted")
        self.assertEqual(run("tls", "check", "not a domain").returncode, 64)
        self.assertEqual(run("tls", "check", "x." + Z, "--port", "0").returncode, 64)
        self.assertEqual(run("tls", "check", "x." + Z, "--timeout", "soon").returncode, 64)


def counts():
    out = {}
    for f in os.listdir(DIR):
        if f.endswith(".count"):
            with open(os.path.join(DIR, f)) as fh:
                out[f[:-6]] = int(fh.read())
    return out


class Survey(unittest.TestCase):
    def expected(self):
        doms = []
        with open(os.path.join(DIR, "survey.map")) as f:
            for line in f:
                w = line.split()
                doms.append((w[0], w[1:]))
        e = {"domains": len(doms), "domains_total": len(doms), "interrupted": False}
        kinds = [h[0] if h and h[0] in ("NULLMX", "NXDOMAIN", "IMPLICIT") else "MX" for _, h in doms]
        e["null_mx"] = kinds.count("NULLMX")
        e["nxdomain"] = kinds.count("NXDOMAIN")
        e["implicit_mx"] = kinds.count("IMPLICIT")
        e["dns_failure"] = 0
        e["with_mx"] = kinds.count("MX") + kinds.count("IMPLICIT")
        hostsets = {}
        for (d, h), k in zip(doms, kinds):
            if k == "MX":
                hostsets[d] = h
            elif k == "IMPLICIT":
                hostsets[d] = [d]
        hosts = sorted({h for hs in hostsets.values() for h in hs})
        info = {h: host_info(h) for h in hosts}
        e["hosts"] = len(hosts)
        e["starttls"] = sum(1 for i in info.values() if i[3])
        e["no_starttls"] = sum(1 for i in info.values() if i[2] and not i[3])
        e["unreachable"] = sum(1 for i in info.values() if not i[2])
        e["trusted"] = sum(1 for i in info.values() if i[3] and i[1] == "trusted")
        e["failed"] = e["starttls"] - e["trusted"]
        e["failures"] = {c: sum(1 for i in info.values() if i[3] and i[1] == c)
                         for c in ("name_mismatch", "unknown_authority", "expired", "weak", "handshake", "connection")}
        e["versions"] = {"TLSv1.3": sum(1 for i in info.values() if i[4] == "TLSv1.3"),
                         "TLSv1.2": sum(1 for i in info.values() if i[4] == "TLSv1.2"),
                         "older": sum(1 for i in info.values() if i[4] in ("TLSv1", "TLSv1.1"))}
        e["settings"] = {}
        for s in SETTINGS:
            o = {}
            for hs in hostsets.values():
                v = outcome(hs, s)
                o[v] = o.get(v, 0) + 1
            o["no mail"] = e["null_mx"] + e["nxdomain"]
            for k in (("encrypted", "clear") if s == "opportunistic" else ("delivered", "blocked")):
                o.setdefault(k, 0)
            e["settings"][s] = o
        # no _mta-sts records and an unsigned zone: no requirement anywhere
        e["mta_sts"] = {"enforce": 0, "testing": 0, "none": 0, "no_policy": e["with_mx"], "cannot_confirm": 0}
        e["dane"] = {"domains": 0, "hosts_tlsa_match": 0, "hosts_tlsa_nomatch": 0}
        by_addr = {}
        for h, i in info.items():
            by_addr[i[0]] = by_addr.get(i[0], 0) + 1
        return e, by_addr, doms

    def test_survey_table_and_each_host_once(self):
        exp, by_addr, doms = self.expected()
        self.assertGreater(exp["hosts"], 10)
        self.assertGreaterEqual(len(doms), 300)
        before = counts()
        r = run("tls", "survey", os.environ["TLSCHECK_SURVEY"], *NET, "--concurrency", "50", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got, exp)
        self.assertNotIn("[#", r.stderr)  # no progress bar without a terminal
        after = counts()
        for addr, n in by_addr.items():
            if addr == "127.0.8.12":
                continue  # refused: nothing listens to count
            self.assertEqual(after.get(addr, 0) - before.get(addr, 0), n, addr)

        # the text table says the same, in the seed's shape
        r = run("tls", "survey", os.environ["TLSCHECK_SURVEY"], *NET, "--csv", os.path.join(TMP, "s.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {}
        for line in r.stdout.splitlines():
            parts = line.split()
            for i, w in enumerate(parts):
                if w.isdigit():
                    rows[" ".join(parts[:i])] = int(w)
                    break
        self.assertEqual(rows["domains"], exp["domains"])
        self.assertEqual(rows["unique MX hosts"], exp["hosts"])
        self.assertEqual(rows["offer STARTTLS"], exp["starttls"])
        self.assertEqual(rows["trusted TLS"], exp["trusted"])
        self.assertEqual(rows["no trusted TLS"], exp["failed"])
        self.assertEqual(rows["name mismatch"], exp["failures"]["name_mismatch"])
        self.assertEqual(rows["unknown authority / self-signed"], exp["failures"]["unknown_authority"])
        self.assertEqual(rows["expired / not yet valid"], exp["failures"]["expired"])
        self.assertIn("%5.1f%% of failures" % (100.0 * exp["failures"]["name_mismatch"] / exp["failed"]), r.stdout)
        with open(os.path.join(TMP, "s.csv")) as f:
            data = list(csv.DictReader(f))
        self.assertEqual(len({row["domain"] for row in data}), exp["domains"])
        self.assertEqual(oct(os.stat(os.path.join(TMP, "s.csv")).st_mode & 0o777), "0o600")
        for row in data:
            if row["host"]:
                self.assertEqual(row["category"], host_info(row["host"])[1], row)

    def test_survey_with_a_resolver_that_never_answers(self):
        # every lookup given up at its deadline (libunbound, in the probe's
        # event loop, still holds them: they are dropped unseen at the end)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.7.3", 0))
        lst = os.path.join(TMP, "blackhole.txt")
        with open(lst, "w") as f:
            f.write("".join("d%d.blackhole.example\n" % i for i in range(60)))
        try:
            r = run("tls", "survey", lst, "--dns", "127.0.7.3@%d" % sock.getsockname()[1], "--trust-anchor", "none",
                    "--timeout", "0.3", "--concurrency", "5", "--no-policy", "--json")
        finally:
            sock.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual((got["domains"], got["dns_failure"], got["hosts"]), (60, 60, 0))
        self.assertEqual(got["settings"]["enforced"]["unreachable"], 60)

    def test_handshake_threads_change_nothing(self):
        """The TLS handshakes on worker threads (--threads N) or in the
        loop itself (--threads 0): the same summary, the same row for
        every domain and host, with many connections in flight."""
        exp, _, _ = self.expected()
        rows = {}
        for t in ("0", "1", "3"):
            out = os.path.join(TMP, "threads-%s.csv" % t)
            r = run("tls", "survey", os.environ["TLSCHECK_SURVEY"], *NET, "--concurrency", "100",
                    "--threads", t, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), exp, "--threads " + t)
            r = run("tls", "survey", os.environ["TLSCHECK_SURVEY"], *NET, "--concurrency", "100",
                    "--threads", t, "--csv", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                rows[t] = sorted(tuple(sorted(row.items())) for row in csv.DictReader(f))
            self.assertGreater(len(rows[t]), 300)
        self.assertEqual(rows["0"], rows["1"])
        self.assertEqual(rows["0"], rows["3"])
        # the mx-valid host really was judged (chain, names) on a worker
        valid = [dict(r) for r in rows["3"] if dict(r)["address"] == "127.0.8.3" and dict(r)["category"] == "trusted"]
        self.assertTrue(valid and all(v["tls_version"] == "TLSv1.3" for v in valid))
        for bad in ("-1", "65", "two", ""):
            r = run("tls", "survey", os.environ["TLSCHECK_SURVEY"], *NET, "--threads", bad)
            self.assertEqual(r.returncode, 64, bad)
            self.assertIn("--threads takes 0..64", r.stderr)

    def test_progress_bar_on_a_terminal(self):
        path = os.path.join(TMP, "two.txt")
        with open(path, "w") as f:
            f.write("valid.%s\nplain.%s\n" % (Z, Z))
        master, slave = pty.openpty()
        p = subprocess.Popen([POSTERN, "--db", DB, "tls", "survey", path, *NET], stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        out, _ = p.communicate(timeout=30)
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        os.close(master)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"2/2 domains, 2/2 MX hosts", err)
        self.assertIn(b"[#", err)
        self.assertNotIn("[#", out)
        self.assertRegex(out, r"trusted TLS\s+1")

    def test_file_format(self):
        path = os.path.join(TMP, "list.txt")
        with open(path, "w") as f:
            f.write("# recipients\n\nvalid.%s   # a comment\n  VALID.%s.\nnot a domain\nbad_label!.x\nplain.%s\n" % (Z, Z, Z))
        r = run("tls", "survey", path, *NET, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("list.txt:5:", r.stderr)
        self.assertIn("list.txt:6:", r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["domains"], doc["hosts"], doc["trusted"], doc["no_starttls"]), (2, 2, 1, 1))
        with open(path, "w") as f:
            f.write("# nothing\n")
        self.assertEqual(run("tls", "survey", path).returncode, 65)
        self.assertEqual(run("tls", "survey", os.path.join(TMP, "missing")).returncode, 66)
        self.assertEqual(run("tls", "survey").returncode, 64)

    def test_ctrl_c_prints_the_partial_summary(self):
        path = os.path.join(TMP, "slow.txt")
        with open(path, "w") as f:
            f.write("valid.%s\nstall.%s\n" % (Z, Z))
        before = counts().get("127.0.8.10", 0)
        net = [a if a != "1" else "20" for a in NET]
        p = subprocess.Popen([POSTERN, "--db", DB, "tls", "survey", path, *net, "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while counts().get("127.0.8.10", 0) == before and time.monotonic() < deadline:
            time.sleep(0.02)  # until the stalling server has the connection
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 130, err)
        doc = json.loads(out)
        # the stalled host is never done; the valid one may or may not be yet
        self.assertTrue(doc["interrupted"])
        self.assertEqual(doc["domains_total"], 2)
        self.assertIn(doc["domains"], (0, 1))
        self.assertEqual((doc["hosts"], doc["trusted"]), (doc["domains"], doc["domains"]))

    @unittest.skipUnless(os.environ.get("MAILLOG_FEED"), "needs tests/proto's maillog_feed")
    def test_account_recipient_domains(self):
        # the real Postfix 3.7 log of tests/proto, its recipients moved into the test zone
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto", "maillog-postfix37.in")
        where = {"clear": "plain", "tls": "valid", "tls13": "valid", "untrusted": "selfsigned", "verified": "tls12",
                 "down": "stall", "discard": "other"}
        with open(src) as f:
            log = re.sub(r"@([a-z0-9]+)\.test\b", lambda m: "@%s.%s" % (where.get(m.group(1), "refused"), Z), f.read())
        path = os.path.join(TMP, "maillog")
        with open(path, "w") as f:
            f.write(log)
        db = os.path.join(TMP, "events.db")
        self.assertEqual(run("--db", db, "account", "create", "alice", db=False).returncode, 0)
        p = subprocess.run([os.environ["MAILLOG_FEED"], db, path, "1796170000"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        events = json.loads(run("--db", db, "--json", "events", "alice", "--limit", "0", db=False).stdout)
        domains = {e["recipient"].split("@")[1] for e in events if e.get("recipient")}
        self.assertGreater(len(domains), 3)
        r = run("--db", db, "tls", "survey", "--account", "alice", *NET, "--json", db=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        infos = [HOSTS["mx-" + d.split(".")[0]] for d in domains]
        self.assertEqual(doc["domains"], len(domains))
        self.assertEqual(doc["hosts"], len(domains))
        self.assertEqual(doc["trusted"], sum(1 for i in infos if i[1] == "trusted"))
        self.assertEqual(doc["unreachable"], sum(1 for i in infos if not i[2]))
        self.assertEqual(run("--db", db, "tls", "survey", "--account", "nobody", db=False).returncode, 66)


if __name__ == "__main__":
    unittest.main()
