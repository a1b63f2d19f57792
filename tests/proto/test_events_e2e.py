"""Delivery events end to end with a real Postfix: record-maillog.sh runs
the e2e Postfix instance (its enforcing transports and status filter)
inside `unshare --net`, with sinks without TLS, with TLS 1.2 and 1.3, with
an untrusted and a verified certificate; the real log follower
(maillog_feed) reads the log Postfix wrote into a fresh database; the
shell shows the events and the TLS report.  Checked: the enforced
account's message to the sink without STARTTLS is exactly one blocked
event with the right reason, recipient and host; the opportunistic
account's messages are delivered in the clear and over TLS with the
protocol and cipher the sinks themselves saw; the message to five
recipients gives one event per recipient under one queue id; the TLS
report's figures are the events'.  Root only (exit 77 = skipped)."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import clitest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FEED = os.environ.get("MAILLOG_FEED", "")


class EventsE2E(clitest.Base):
    @classmethod
    def setUpClass(cls):
        cls.work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "events-e2e-%d" % os.getpid())
        os.makedirs(cls.work, exist_ok=True)
        env = dict(os.environ, RECORD_FAST="1", RECORD_SINKS=cls.work)
        p = subprocess.run([os.path.join(HERE, "record-maillog.sh")], capture_output=True, text=True,
                           env=env, timeout=240)
        if p.returncode != 0:
            raise AssertionError("record-maillog.sh failed: %s" % p.stderr[-3000:])
        cls.maillog = os.path.join(cls.work, "maillog")
        with open(cls.maillog, "w") as f:
            f.write(p.stdout)
        cls.sinks = {}
        for port in (20025, 20026, 20027, 20028, 20030):
            path = os.path.join(cls.work, "sink%d.jsonl" % port)
            with open(path) as f:
                cls.sinks[port] = [json.loads(l) for l in f if l.strip()]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def setUp(self):
        super().setUp()
        p = subprocess.run([FEED, self.db, self.maillog], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("malformed=0 ", p.stdout)

    def sink_msg(self, port, rcpt):
        got = [m for m in self.sinks[port] if any(rcpt in r for r in m["rcpt"])]
        self.assertEqual(len(got), 1, (port, rcpt, self.sinks[port]))
        return got[0]

    def test_enforced_account_blocked(self):
        ev = self.js("events", "enforced", "--limit", "0")
        self.assertEqual(len(ev), 1, ev)
        e = ev[0]
        self.assertEqual(e["type"], "blocked")
        self.assertEqual(e["recipient"], "carol@clear.test")
        self.assertEqual(e["relay"], "127.0.0.1[127.0.0.1]:20025")
        self.assertEqual(e["reason"], "TLS required but not supported: TLS is required, "
                                      "but was not offered by host 127.0.0.1[127.0.0.1]")
        self.assertIsNone(e["tls"])
        # nothing reached the sink without TLS for carol
        self.assertFalse([m for m in self.sinks[20025] if any("carol@" in r for r in m["rcpt"])])
        self.assertEqual(self.js("tls", "report", "enforced")["blocked"], 1)
        # verify account to the self-signed sink, TLS 1.3 account to the 1.2 sink: blocked as well
        v = self.js("events", "verify")
        self.assertEqual([(x["type"], x["recipient"]) for x in v], [("blocked", "dave@untrusted.test")])
        self.assertIn("Server certificate not verified", v[0]["reason"])
        t = self.js("events", "t13")
        self.assertEqual([(x["type"], x["recipient"]) for x in t], [("blocked", "erin@tls.test")])

    def test_opportunistic_clear_and_tls_as_the_sinks_saw(self):
        ev = {e["recipient"]: e for e in self.js("events", "alice", "--limit", "0")}
        clear = ev["bob@clear.test"]
        self.assertEqual(clear["type"], "delivered")
        self.assertIsNone(clear["tls"])
        self.assertFalse(self.sink_msg(20025, "bob@clear.test")["tls"])
        for port, rcpt in ((20026, "bob@tls.test"), (20027, "bob@tls13.test"), (20030, "bob@verified.test"),
                           (20028, "bob@untrusted.test")):
            e = ev[rcpt]
            seen = self.sink_msg(port, rcpt)
            self.assertEqual(e["type"], "delivered", e)
            self.assertIsNotNone(e["tls"], e)
            self.assertEqual(e["tls"]["protocol"], seen["version"], (e, seen))
            self.assertEqual(e["tls"]["cipher"], seen["cipher"], (e, seen))
        self.assertEqual(ev["bob@verified.test"]["tls"]["trust"], "verified")
        self.assertEqual(ev["bob@untrusted.test"]["tls"]["trust"], "untrusted")
        self.assertEqual(ev["bob@tls.test"]["tls"]["trust"], "trusted")

    def test_mixed_recipients_one_queue_id(self):
        ev = self.js("events", "alice", "--limit", "0")
        mixed = [e for e in ev if e["recipient"] in ("a@clear.test", "b@tls13.test", "c@down.test",
                                                     "e@discard.test")]
        self.assertEqual(len(mixed), 4, mixed)
        self.assertEqual(len({e["queue_id"] for e in mixed}), 1)
        types = {e["recipient"]: e["type"] for e in mixed}
        self.assertEqual(types, {"a@clear.test": "delivered", "b@tls13.test": "delivered",
                                 "c@down.test": "deferred", "e@discard.test": "delivered"})
        self.assertIsNone([e for e in mixed if e["recipient"] == "a@clear.test"][0]["tls"])
        self.assertEqual([e for e in mixed if e["recipient"] == "b@tls13.test"][0]["tls"]["protocol"], "TLSv1.3")
        # the recipient refused at RCPT (bounce.test) is not an event: smtpd rejected it
        self.assertNotIn("d@bounce.test", [e["recipient"] for e in ev])

    def test_tls_report_is_the_events(self):
        ev = self.js("events", "alice", "--limit", "0")
        rep = self.js("tls", "report", "alice")
        net = [e for e in ev if e["type"] == "delivered" and e["transport"].endswith("/smtp")]
        tls = [e for e in net if e["tls"]]
        self.assertEqual(rep["delivered"], len(net))
        self.assertEqual(rep["delivered_tls"], len(tls))
        self.assertEqual(rep["delivered_clear"], len(net) - len(tls))
        self.assertEqual(rep["verified"], len([e for e in tls if e["tls"]["verified"]]))
        protos = {}
        for e in tls:
            protos[e["tls"]["protocol"]] = protos.get(e["tls"]["protocol"], 0) + 1
        self.assertEqual(rep["protocols"], protos)
        self.assertEqual(rep["clear_domains"], [{"domain": "clear.test", "recipients": 2}])
        self.assertEqual(rep["deferred"], 1)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skipped: needs root (a private Postfix instance)")
        sys.exit(77)
    # As root (CI), scripts/install-deps.sh --test has installed these: a
    # missing one is a failure, not a reason to skip.
    missing = [t for t in ("postfix", "swaks", "unshare") if not shutil.which(t)]
    if missing:
        print("error: missing %s (scripts/install-deps.sh --test installs them)" % ", ".join(missing))
        sys.exit(1)
    clitest.main()
