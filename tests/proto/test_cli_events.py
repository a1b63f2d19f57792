"""The shell's `events` and `tls report` commands on events the real log
follower recorded from the real Postfix 3.7 log (maillog-postfix37.in,
fed by maillog_feed into the test's database), in one-shot and script
mode; the report's figures are checked against the events themselves."""
import base64
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import clitest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FEED = os.environ.get("MAILLOG_FEED", "")
HOOKD = os.environ.get("HOOKD", "")
NOW = "1796170000"  # 2026-12-02, the recording's date


class EventsTests:
    def setUp(self):
        super().setUp()
        self.ok("account", "create", "alice")
        p = subprocess.run([FEED, self.db, os.path.join(HERE, "maillog-postfix37.in"), NOW],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("events=14 ", p.stdout)

    def test_blocked_event_of_the_enforced_account(self):
        ev = self.js("events", "enforced", "--type", "blocked")
        self.assertEqual(len(ev), 1)
        e = ev[0]
        self.assertEqual(e["recipient"], "carol@clear.test")
        self.assertEqual(e["relay"], "127.0.0.1[127.0.0.1]:20025")
        self.assertEqual(e["dsn"], "5.7.4")
        self.assertTrue(e["reason"].startswith("TLS required but not supported: "), e)
        self.assertIsNone(e["tls"])
        self.assertTrue(e["tls_refused"])
        self.assertEqual(e["transport"], "postfix/postern-tls-encrypt/smtp")
        self.assertEqual(e["queue_id"], "04CF5A7227E")
        self.assertEqual(e["time"], "2026-12-02T00:14:22Z")
        # the verify account's block carries the certificate reason
        e = self.js("events", "verify")[0]
        self.assertEqual(e["type"], "blocked")
        self.assertIn("(self-signed certificate)", e["reason"])
        self.assertEqual(e["tls"]["trust"], "untrusted")
        # the text table shows it too
        r = self.ok("events", "enforced")
        self.assertRegex(r.out, r"(?m)^TIME\s+TYPE\s+QUEUE ID\s+RECIPIENT\s+RELAY\s+TLS\s+REASON")
        self.assertRegex(r.out, r"blocked\s+04CF5A7227E\s+carol@clear.test\s+127.0.0.1\[127.0.0.1\]:20025\s+clear\s+"
                                r"TLS required but not supported")

    def test_events_with_tls_details_and_filters(self):
        ev = self.js("events", "alice", "--limit", "0")
        self.assertEqual(len(ev), 9)
        by = {e["recipient"]: e for e in ev}
        self.assertIsNone(by["bob@clear.test"]["tls"])
        self.assertEqual(by["bob@tls13.test"]["tls"],
                         {"protocol": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "trust": "trusted",
                          "verified": False})
        self.assertEqual(by["bob@verified.test"]["tls"]["trust"], "verified")
        self.assertTrue(by["bob@verified.test"]["tls"]["verified"])
        self.assertEqual(by["bob@tls.test"]["tls"]["protocol"], "TLSv1.2")
        # three recipients of the mixed message, one queue id, mixed outcomes
        mixed = [e for e in ev if e["queue_id"] == "53771A72273"]
        self.assertEqual(sorted((e["recipient"], e["type"]) for e in mixed),
                         [("a@clear.test", "delivered"), ("b@tls13.test", "delivered"),
                          ("c@down.test", "deferred"), ("e@discard.test", "delivered")])
        self.assertEqual(self.js("events", "alice", "--type", "deferred")[0]["reason"],
                         "connect to 127.0.0.1[127.0.0.1]:20099: Connection refused")
        self.assertEqual(len(self.js("events", "alice", "--limit", "2")), 2)
        since = self.js("events", "alice", "--since", "2026-12-02T00:14:22Z", "--limit", "0")
        self.assertEqual(len(since), len([e for e in ev if e["time"] >= "2026-12-02T00:14:22Z"]))
        self.assertLess(len(since), len(ev))
        self.assertEqual(self.js("events", "nobody"), [])

    def test_tls_report_matches_the_events(self):
        rep = self.js("tls", "report", "alice")
        ev = self.js("events", "alice", "--limit", "0")
        network = [e for e in ev if e["type"] == "delivered" and e["transport"].endswith("/smtp")]
        tls = [e for e in network if e["tls"]]
        self.assertEqual(rep["delivered"], len(network))
        self.assertEqual(rep["delivered"], 7)
        self.assertEqual(rep["delivered_tls"], len(tls))
        self.assertEqual(rep["delivered_clear"], len(network) - len(tls))
        self.assertAlmostEqual(rep["tls_share"], len(tls) / len(network))
        self.assertEqual(rep["protocols"], {"TLSv1.3": 3, "TLSv1.2": 2})
        self.assertEqual(rep["verified"], len([e for e in tls if e["tls"]["verified"]]))
        self.assertEqual(rep["verified"], 1)
        self.assertEqual(rep["unverified"], 4)
        self.assertEqual((rep["blocked"], rep["bounced"], rep["deferred"]), (0, 0, 1))
        self.assertEqual(rep["clear_domains"], [{"domain": "clear.test", "recipients": 2}])
        self.assertEqual(self.js("tls", "report", "enforced")["blocked"], 1)
        r = self.ok("tls", "report", "alice")
        self.assertIn("delivered:          7 recipients", r.out)
        self.assertIn("over TLS:         5 (71.4%)", r.out)
        self.assertRegex(r.out, r"(?m)^clear.test\s+2$")
        r = self.ok("tls", "report", "enforced")
        self.assertIn("blocked:            1", r.out)
        self.assertIn("no recipient domain received mail in the clear", r.out)

    def deny_through_hookd(self, key):
        """A real postern-hookd refuses a login from outside the allowlist
        (audited as auth.deny by the library's verdict)."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        # the daemon opens the store as the user it drops to
        import pwd
        nobody = pwd.getpwnam("nobody")
        for name in os.listdir(self.dir) + [""]:
            os.chown(os.path.join(self.dir, name), nobody.pw_uid, nobody.pw_gid)
        conf = os.path.join(self.dir, "hookd.conf")
        with open(conf, "w") as f:
            f.write("database = %s\nkey_file = %s\nauth_listen = inet:127.0.0.1:%d\n"
                    "policy_listen = unix:%s/policy\nuser = nobody\n" % (self.db, self.key, port, self.dir))
        log = open(os.path.join(self.dir, "hookd.log"), "w")
        d = subprocess.Popen([HOOKD, "-f", "-d", "-c", conf], stderr=log)
        try:
            for _ in range(600):
                try:
                    c = socket.create_connection(("127.0.0.1", port))
                    break
                except OSError:
                    self.assertIsNone(d.poll(), "postern-hookd exited")
                    time.sleep(0.05)
            else:
                self.fail("postern-hookd did not listen")
            f = c.makefile("rwb")
            resp = base64.b64encode(b"\0apikey\0" + key.encode()).decode()
            f.write(("VERSION\t1\t2\nCPID\t42\nAUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\t"
                     "rip=192.0.2.9\tsecured\tresp=%s\n" % resp).encode())
            f.flush()
            while True:
                line = f.readline().decode()
                self.assertTrue(line, "connection closed")
                if line.startswith(("OK\t", "FAIL\t")):
                    break
            self.assertTrue(line.startswith("FAIL\t1"), line)
            c.close()
        finally:
            d.terminate()
            d.wait(timeout=30)
            log.close()

    def test_denied_attempts_joined(self):
        if not HOOKD or os.geteuid() != 0:
            self.skipTest("needs postern-hookd and root")
        key = self.ok("apikey", "create", "alice", "smtp").out.strip().splitlines()[-1]
        self.ok("ip", "allow", "alice", "10.0.0.0/8")
        self.deny_through_hookd(key)
        denied = self.js("events", "alice", "--type", "denied")
        self.assertEqual(len(denied), 1, denied)
        d = denied[0]
        self.assertEqual((d["type"], d["action"], d["account"], d["address"]),
                         ("denied", "auth.deny", "alice", "192.0.2.9"))
        self.assertIn("ip", d["reason"])
        # among the deliveries, by time: the newest entry of all
        ev = self.js("events", "alice", "--limit", "0")
        self.assertEqual(len(ev), 10)
        self.assertEqual(ev[-1]["type"], "denied")
        self.assertEqual([e["type"] for e in self.js("events", "alice", "--limit", "1")], ["denied"])
        self.assertFalse([e for e in self.js("events", "alice", "--type", "delivered", "--limit", "0")
                          if e["type"] == "denied"])
        r = self.ok("events", "alice", "--limit", "1")
        self.assertRegex(r.out, r"auth\.deny\s+-\s+\S+\s+192\.0\.2\.9\s+-\s+")

    def test_bad_inputs(self):
        self.fails(64, "events", "alice", "--type", "flying", msg="--type takes delivered, deferred, bounced, blocked or denied")
        self.fails(64, "events", "alice", "--limit", "-1", msg="--limit takes a number")
        self.fails(64, "events")
        self.fails(64, "tls", "report")
        self.fails(65, "tls", "report", "alice", "--since", "yesterday-ish")


class OneShot(EventsTests, clitest.Base):
    script = False


class Script(EventsTests, clitest.Base):
    script = True


if __name__ == "__main__":
    clitest.main()
