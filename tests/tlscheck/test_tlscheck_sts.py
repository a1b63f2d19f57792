"""`postern tls check` and `tls survey` under the domains' own
requirement: MTA-STS policies fetched from a real HTTPS server, DANE
TLSA records in a DNSSEC-signed zone of a real nsd, real SMTP/TLS
servers on loopback (tests/tlscheck/sts-world.sh).  The verdicts must
follow what postern-hookd's TLS policy service would make Postfix do:
the stronger of the setting and the domain's requirement."""
import csv
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

POSTERN = os.environ["POSTERN"]
Z = "sts.example"
TMP = tempfile.mkdtemp(prefix="tlscheck-sts-", dir=os.environ.get("TMPDIR"))
TA = os.path.join(TMP, "ta.ds")
with open(TA, "w") as f:
    f.write(os.environ["STS_DNS_TA"] + "\n")
HOOKD = os.path.join(TMP, "hookd.conf")
with open(HOOKD, "w") as f:
    f.write("dns_forward = %s\ndns_trust_anchor_file = %s\nmtasts_ca_file = %s\nmtasts_https_port = %s\n"
            "mtasts_timeout = 5000\n" % (os.environ["STS_DNS_ADDR"], TA, os.environ["STS_HTTPS_CA"],
                                         os.environ["STS_HTTPS_PORT"]))
# the resolver, trust anchor, CA and port of the fetch: all from postern-hookd's configuration
NET = ["--port", os.environ["TLSCHECK_PORT"], "--ca-file", os.environ["TLSCHECK_CA"], "--timeout", "2",
       "--hookd-config", HOOKD]
SETTINGS = ("opportunistic", "enforced", "enforced_valid_cert", "min_tls13")
_dbn = [0]


def fresh_db():
    _dbn[0] += 1
    return os.path.join(TMP, "db%d" % _dbn[0])


def run(*args, db=None):
    cmd = [POSTERN, "--db", db or fresh_db()] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def check(name, *extra, db=None):
    r = run("tls", "check", "%s.%s" % (name, Z), *NET, *extra, "--json", db=db)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("no JSON: %r %r" % (r.stdout, r.stderr))
    return r.returncode, doc


def outcomes(doc):
    return tuple(doc["settings"][s]["outcome"] for s in SETTINGS)


def dns_counts():
    """The queries the test DNS server received, by type (nsd-control)."""
    out = subprocess.run(os.environ["STS_DNS_CONTROL"].split() + ["stats_noreset"], check=True,
                         capture_output=True, text=True).stdout
    return {k: int(v) for k, v in re.findall(r"^num\.(?:type\.)?(\w+)=(\d+)$", out, re.M)}


class MtaSts(unittest.TestCase):
    def test_enforce_valid_certificate_delivered(self):
        rc, doc = check("tc-good")
        self.assertEqual(rc, 0, doc)
        self.assertEqual(doc["mta_sts"]["mode"], "enforce")
        self.assertTrue(doc["mta_sts"]["enforced"])
        self.assertEqual(doc["hosts"][0]["matches"], "*.tc-good." + Z)
        self.assertEqual(outcomes(doc), ("encrypted", "delivered", "delivered", "delivered"))
        self.assertEqual(doc["settings"]["opportunistic"]["policy"]["answer"],
                         "secure match=mx.tc-good.%s servername=hostname" % Z)
        self.assertIn("MTA-STS enforce", doc["settings"]["opportunistic"]["reason"])

    def test_enforce_wrong_name_blocked_even_opportunistic(self):
        rc, doc = check("tc-wrong")
        self.assertEqual(rc, 1)
        self.assertEqual(doc["hosts"][0]["category"], "name_mismatch")
        self.assertEqual(doc["hosts"][0]["matches"], "mx.tc-wrong." + Z)
        self.assertEqual(outcomes(doc), ("blocked",) * 4)
        why = doc["settings"]["opportunistic"]["reason"]
        self.assertIn("MTA-STS enforce", why)
        self.assertIn("name mismatch", why)
        self.assertIn("other.example", why)
        # the same server for a domain without a policy: opportunistic gets through
        rc, doc = check("tc-plain")
        self.assertEqual(doc["mta_sts"]["mode"], "none")
        self.assertEqual(outcomes(doc), ("encrypted", "delivered", "blocked", "delivered"))
        # and the text says it too
        r = run("tls", "check", "tc-wrong." + Z, *NET)
        self.assertRegex(r.stdout, r"opportunistic\s+blocked\s+MTA-STS enforce: mx.tc-wrong.sts.example: name mismatch")
        self.assertRegex(r.stdout, r"MTA-STS:\s+matches mx.tc-wrong.sts.example")

    def test_mx_not_matching_the_policy_not_counted(self):
        rc, doc = check("tc-nomatch")
        self.assertEqual(rc, 1)
        h = {x["name"]: x for x in doc["hosts"]}
        deep = h["a.b.tc-nomatch." + Z]
        self.assertEqual(deep["category"], "trusted")  # it would take the mail, were it in the policy
        self.assertIsNone(deep["matches"])
        self.assertEqual(h["mx.tc-nomatch." + Z]["matches"], "*.tc-nomatch." + Z)
        self.assertEqual(outcomes(doc), ("blocked",) * 4)
        for s in SETTINGS:
            self.assertEqual(doc["settings"][s]["host"], "mx.tc-nomatch." + Z)
        r = run("tls", "check", "tc-nomatch." + Z, *NET)
        self.assertIn("matches no mx pattern of the policy: not used (enforce)", r.stdout)

    def test_no_mx_matching_deferred(self):
        rc, doc = check("tc-nomx")
        self.assertEqual(rc, 1)
        self.assertEqual(outcomes(doc), ("blocked",) * 4)
        self.assertEqual(doc["settings"]["opportunistic"]["policy"]["result"], "TEMP")
        self.assertIn("no MX host matches the policy", doc["settings"]["enforced"]["reason"])

    def test_testing_mode_not_enforced(self):
        rc, doc = check("tc-testing")
        self.assertEqual(doc["mta_sts"]["mode"], "testing")
        self.assertFalse(doc["mta_sts"]["enforced"])
        self.assertEqual(doc["hosts"][0]["matches"], "mx.tc-testing." + Z)
        self.assertEqual(outcomes(doc), ("encrypted", "delivered", "blocked", "delivered"))
        self.assertEqual(doc["settings"]["opportunistic"]["policy"]["result"], "NOTFOUND")
        self.assertNotIn("MTA-STS", doc["settings"]["enforced_valid_cert"]["reason"])
        # mtasts_strict_testing = yes: enforced like enforce
        strict = os.path.join(TMP, "strict.conf")
        with open(HOOKD) as f, open(strict, "w") as g:
            g.write(f.read() + "mtasts_strict_testing = yes\n")
        args = [a if a != HOOKD else strict for a in NET]
        r = run("tls", "check", "tc-testing." + Z, *args, "--json")
        self.assertEqual(outcomes(json.loads(r.stdout)), ("blocked",) * 4, r.stderr)

    def test_fetch_needs_the_daemons_settings(self):
        # Without --hookd-config: port 443 and the system's CAs: no policy can
        # be fetched, and the wrong-name server passes opportunistic TLS.
        net = [a for a in NET if a != HOOKD and a != "--hookd-config"]
        r = run("tls", "check", "tc-wrong." + Z, *net, "--dns", os.environ["STS_DNS_ADDR"], "--trust-anchor", TA,
                "--json")
        doc = json.loads(r.stdout)
        self.assertNotEqual(doc["mta_sts"]["mode"], "enforce")
        self.assertEqual(doc["settings"]["opportunistic"]["outcome"], "encrypted")

    def test_cached_policy_used(self):
        db = fresh_db()
        self.assertEqual(check("tc-wrong", db=db)[1]["settings"]["opportunistic"]["outcome"], "blocked")
        r = run("tls", "policy", "tc-wrong." + Z, "--hookd-config", HOOKD, db=db)
        self.assertRegex(r.stdout, r"cache: +policy id=tcwrong1 mode enforce")

    def test_database_that_cannot_be_opened(self):
        bad = os.path.join(TMP, "not-a-db")
        with open(bad, "w") as f:
            f.write("this is not an SQLite database\n" * 100)
        r = run("tls", "check", "tc-good." + Z, *NET, db=bad)
        self.assertNotIn(r.returncode, (0, 1))
        self.assertIn("cannot open the database", r.stderr)
        self.assertEqual(r.stdout, "")
        lst = os.path.join(TMP, "one.txt")
        with open(lst, "w") as f:
            f.write("tc-good.%s\n" % Z)
        r = run("tls", "survey", lst, *NET, db=bad)
        self.assertNotIn(r.returncode, (0, 1))
        self.assertIn("cannot open the database", r.stderr)
        r = run("tls", "survey", "--account", "alice", *NET, db=bad)
        self.assertNotIn(r.returncode, (0, 1))
        self.assertIn("cannot open the database", r.stderr)
        # --no-policy: the probe alone, no database needed
        net = [a for a in NET if a != HOOKD and a != "--hookd-config"]
        r = run("tls", "check", "tc-good." + Z, *net, "--dns", os.environ["STS_DNS_ADDR"], "--trust-anchor", TA,
                "--no-policy", "--json", db=bad)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(json.loads(r.stdout)["mta_sts"])
        r = run("tls", "survey", lst, *net, "--dns", os.environ["STS_DNS_ADDR"], "--trust-anchor", TA,
                "--no-policy", "--json", db=bad)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertIsNone(doc["mta_sts"])
        self.assertEqual(doc["trusted"], 1)


class Dane(unittest.TestCase):
    def test_tlsa_match_self_signed_delivered(self):
        rc, doc = check("tc-dane")
        self.assertEqual(rc, 0, doc)
        h = doc["hosts"][0]
        self.assertEqual(h["category"], "unknown_authority")
        self.assertEqual(h["tlsa"]["status"], "match")
        self.assertTrue(doc["mta_sts"]["dane"])
        self.assertEqual(outcomes(doc), ("encrypted", "delivered", "delivered", "delivered"))
        self.assertEqual(doc["settings"]["opportunistic"]["policy"]["answer"], "dane")
        self.assertEqual(doc["settings"]["enforced_valid_cert"]["policy"]["answer"], "dane-only protocols=>=TLSv1.2")
        self.assertIn("DANE TLSA matched", doc["settings"]["enforced_valid_cert"]["reason"])

    def test_tlsa_mismatch_blocked(self):
        rc, doc = check("tc-danebad")
        self.assertEqual(rc, 1)
        h = doc["hosts"][0]
        self.assertEqual(h["category"], "trusted")  # a good certificate, but not the one DNS names
        self.assertEqual(h["tlsa"]["status"], "nomatch")
        self.assertEqual(outcomes(doc), ("blocked",) * 4)
        self.assertIn("DANE", doc["settings"]["opportunistic"]["reason"])
        self.assertIn("matches none", doc["settings"]["enforced"]["reason"])

    def test_dane_ta_with_the_chain(self):
        rc, doc = check("tc-daneta")
        self.assertEqual(rc, 0, doc)
        self.assertEqual(doc["hosts"][0]["tlsa"]["status"], "match")

    def test_without_dnssec_no_dane(self):
        rc, doc = check("tc-dane", "--trust-anchor", "none")
        self.assertFalse(doc["mta_sts"]["dane"])
        self.assertNotEqual(doc["hosts"][0]["tlsa"]["status"], "match")
        self.assertEqual(doc["settings"]["enforced_valid_cert"]["outcome"], "blocked")

    def test_no_tlsa_for_a_policy_domain(self):
        rc, doc = check("tc-good")
        self.assertEqual(doc["hosts"][0]["tlsa"]["status"], "none")
        self.assertFalse(doc["mta_sts"]["dane"])


class Survey(unittest.TestCase):
    DOMAINS = ["tc-good", "tc-wrong", "tc-nomatch", "tc-testing", "tc-nomx", "tc-plain", "tc-dane", "tc-danebad",
               "tc-daneta"]

    def test_policy_status_per_domain(self):
        lst = os.path.join(TMP, "survey.txt")
        with open(lst, "w") as f:
            f.write("".join("%s.%s\n" % (d, Z) for d in self.DOMAINS))
        db = fresh_db()
        r = run("tls", "survey", lst, *NET, "--json", db=db)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["mta_sts"], {"enforce": 4, "testing": 1, "none": 0, "no_policy": 4, "cannot_confirm": 0})
        self.assertEqual(doc["dane"], {"domains": 3, "hosts_tlsa_match": 2, "hosts_tlsa_nomatch": 1})
        self.assertEqual(doc["settings"]["opportunistic"], {"encrypted": 5, "clear": 0, "blocked": 4})
        self.assertEqual(doc["settings"]["enforced_valid_cert"], {"delivered": 3, "blocked": 6})

        out = os.path.join(TMP, "survey.csv")
        r = run("tls", "survey", lst, *NET, "--csv", out, db=db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"MTA-STS enforce\s+4")
        self.assertRegex(r.stdout, r"DANE \(DNSSEC-validated TLSA\)\s+3")
        self.assertRegex(r.stdout, r"opportunistic: blocked \(MTA-STS/DANE\)\s+4")
        with open(out) as f:
            rows = {(x["domain"], x["host"]): x for x in csv.DictReader(f)}
        g = rows[("tc-nomatch." + Z, "a.b.tc-nomatch." + Z)]
        self.assertEqual((g["mta_sts"], g["policy_match"], g["dane"], g["opportunistic"]), ("enforce", "no", "no", "blocked"))
        g = rows[("tc-nomatch." + Z, "mx.tc-nomatch." + Z)]
        self.assertEqual(g["policy_match"], "yes")
        g = rows[("tc-dane." + Z, "mx.tc-dane." + Z)]
        self.assertEqual((g["mta_sts"], g["dane"], g["tlsa"], g["enforced_valid_cert"]), ("none", "yes", "match", "delivered"))
        g = rows[("tc-danebad." + Z, "mx.tc-danebad." + Z)]
        self.assertEqual((g["tlsa"], g["enforced"]), ("nomatch", "blocked"))
        g = rows[("tc-testing." + Z, "mx.tc-testing." + Z)]
        self.assertEqual((g["mta_sts"], g["opportunistic"]), ("testing", "encrypted"))

    def test_each_mx_asked_once(self):
        # the evaluation runs in the probe's loop with its resolver and is
        # given the probe's MX answers: one MX query per domain at the
        # server, not one for the probe and one for the evaluation
        # (libunbound may resend a query to a slow server: below twice)
        lst = os.path.join(TMP, "once.txt")
        with open(lst, "w") as f:
            f.write("".join("%s.%s\n" % (d, Z) for d in self.DOMAINS))
        before = dns_counts()
        r = run("tls", "survey", lst, *NET, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = dns_counts()
        mx = after.get("MX", 0) - before.get("MX", 0)
        txt = after.get("TXT", 0) - before.get("TXT", 0)
        n = len(self.DOMAINS)
        self.assertGreaterEqual(mx, n)
        self.assertLess(mx, 2 * n, "MX queries: %d for %d domains" % (mx, n))
        self.assertGreaterEqual(txt, n)  # each domain's _mta-sts TXT record
        self.assertEqual(json.loads(r.stdout)["mta_sts"]["enforce"], 4)

    def test_ctrl_c_during_the_policy_evaluations(self):
        # slow.plain.example's policy server never answers (tests/sts/https-server.py):
        # Ctrl-C while its evaluation waits gives the summary with it not evaluated.
        lst = os.path.join(TMP, "slow.txt")
        with open(lst, "w") as f:
            f.write("tc-good.%s\nslow.plain.example\n" % Z)
        p = subprocess.Popen([POSTERN, "--db", fresh_db(), "tls", "survey", lst, *NET, "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        self.assertIsNone(p.poll())
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 130, err)
        doc = json.loads(out)
        self.assertTrue(doc["interrupted"])
        self.assertEqual(doc["mta_sts"]["enforce"], 1)
        self.assertEqual(doc["mta_sts"]["not_evaluated"], 1)


if __name__ == "__main__":
    unittest.main()
