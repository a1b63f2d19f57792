"""Every postern command, its bad inputs and its exit status, against a
real database file: each test runs once in one-shot mode (postern
COMMAND ARGS) and once in script mode (the command as a line on
standard input)."""
import getpass
import os
import re
import sqlite3
import subprocess

import clitest
from clitest import PASSWORD, totp, secret_of

KEY_RE = re.compile(r"^pstn_[0-9A-Za-z]{12}_[0-9A-Za-z]{50}$")


class CommandTests:
    # ---------------------------------------------------------- accounts
    def test_account_create_show_list(self):
        r = self.ok("account", "create", "acme")
        self.assertIn("created account 'acme'", r.out)
        d = self.js("account", "create", "acme-eu", "--parent", "acme", "--require-2fa")
        self.assertEqual(d["name"], "acme-eu")
        self.assertEqual(d["parent"], "acme")
        self.assertTrue(d["require_2fa"])
        self.assertEqual(d["tls"], {"mode": "opportunistic", "require_valid_cert": False, "min_version": "1.2"})
        d = self.js("account", "show", "acme")
        self.assertEqual((d["name"], d["parent"], d["disabled"], d["require_2fa"]), ("acme", None, False, False))
        self.assertRegex(d["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        names = [a["name"] for a in self.js("account", "list")]
        self.assertEqual(names, ["acme", "acme-eu"])
        r = self.ok("account", "list")
        lines = r.out.splitlines()
        self.assertTrue(lines[0].startswith("NAME"))
        # Aligned: every column starts at the same offset on each line.
        col = lines[0].index("PARENT")
        self.assertEqual(lines[2][col:col + 4], "acme")

    def test_account_bad_inputs(self):
        self.fails(65, "account", "create", "Bad Name!", msg="error: ")
        self.account()
        self.fails(65, "account", "create", "acme", msg="already exists")
        self.fails(66, "account", "create", "sub", "--parent", "nosuch", msg="nosuch")
        self.fails(66, "account", "show", "nosuch", msg="no account named 'nosuch'")
        self.fails(64, "account", "show", msg="missing argument")
        self.fails(64, "account", "show", "a", "b", msg="unexpected argument 'b'")
        self.fails(64, "account", "create", "x", "--frob", msg="unknown option '--frob'")
        self.fails(64, "account", "create", "x", "--parent", msg="--parent needs a value")
        self.fails(64, "account", msg="'account' needs one of: create, list")
        self.fails(64, "account", "explode", msg="unknown command 'account explode'")
        self.fails(64, "frobnicate", msg="unknown command 'frobnicate'")

    def test_account_enable_disable_set(self):
        self.account()
        self.assertTrue(self.js("account", "disable", "acme")["disabled"])
        self.assertFalse(self.js("account", "enable", "acme")["disabled"])
        d = self.js("account", "set", "acme", "--require-2fa", "on", "--smtp-password-auth", "on")
        self.assertTrue(d["require_2fa"] and d["smtp_password_auth"])
        d = self.js("account", "set", "acme", "--smtp-password-auth", "off")
        self.assertTrue(d["require_2fa"])
        self.assertFalse(d["smtp_password_auth"])
        self.fails(64, "account", "set", "acme", msg="say what to set")
        self.fails(64, "account", "set", "acme", "--require-2fa", "maybe", msg="takes on or off")
        self.fails(66, "account", "set", "nosuch", "--require-2fa", "on")
        self.fails(66, "account", "disable", "nosuch")

    def test_account_delete(self):
        self.account()
        self.account("acme-eu", "--parent", "acme")
        r = self.fails(64, "account", "delete", "acme-eu", msg="add --yes")
        self.ok("account", "show", "acme-eu")  # still there
        self.fails(65, "account", "delete", "acme", "--yes", msg="subaccount")
        self.assertEqual(self.js("account", "delete", "acme-eu", "--yes"), {"deleted": "acme-eu"})
        self.fails(66, "account", "show", "acme-eu")
        r = self.run_cmd("account", "delete", "acme", opts=("--yes",))
        self.assertEqual(r.rc, 0, r)
        self.fails(66, "account", "delete", "acme", "--yes")

    # ------------------------------------------------------------- users
    def test_user_add_show_list(self):
        self.account()
        r = self.ok("user", "add", "acme", "alice@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        self.assertIn("added user alice@example.com", r.out)
        self.assertNotIn(PASSWORD, r.out + r.err)
        d = self.js("user", "show", "alice@example.com")
        self.assertEqual((d["email"], d["account"], d["disabled"], d["has_password"], d["2fa"]),
                         ("alice@example.com", "acme", False, True, "none"))
        self.user("bob@example.com")
        emails = [u["email"] for u in self.js("user", "list", "acme")]
        self.assertEqual(sorted(emails), ["alice@example.com", "bob@example.com"])
        self.assertIn("bob@example.com", self.ok("user", "list", "acme").out)
        # The password is stored as a hash only.
        con = sqlite3.connect(self.db)
        dump = "\n".join(con.iterdump())
        con.close()
        self.assertNotIn(PASSWORD, dump)

    def test_user_bad_inputs(self):
        self.account()
        self.fails(65, "user", "add", "acme", "alice@example.com", "--password-stdin", stdin="short\n",
                   msg="password")
        self.fails(66, "user", "show", "alice@example.com")
        self.fails(66, "user", "add", "nosuch", "alice@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        self.fails(65, "user", "add", "acme", "not-an-email", "--password-stdin", stdin=PASSWORD + "\n")
        # No terminal and no --password-stdin: refused, never read from argv.
        self.fails(64, "user", "add", "acme", "alice@example.com", msg="--password-stdin")
        self.fails(64, "user", "add", "acme", "alice@example.com", "--password", "x", msg="unknown option")
        self.fails(65, "user", "add", "acme", "alice@example.com", "--password-stdin", stdin="",
                   msg="no password given")
        self.user()
        self.fails(65, "user", "add", "acme", "alice@example.com", "--password-stdin", stdin=PASSWORD + "\n",
                   msg="already exists")
        self.fails(66, "user", "list", "nosuch")

    def test_user_passwd_and_login(self):
        self.account()
        self.user()
        d = self.js("user", "login", "alice@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        self.assertEqual(d, {"allowed": True, "reason": "ok", "reason_text": d["reason_text"], "account": "acme"})
        r = self.run_cmd("user", "login", "alice@example.com", "--password-stdin", stdin="wrong password!\n",
                         opts=("--json",))
        self.assertEqual(r.rc, 1, r)
        self.assertEqual((r.json()["allowed"], r.json()["reason"]), (False, "bad_password"))
        r = self.run_cmd("user", "login", "alice@example.com", "--password-stdin", stdin="wrong password!\n")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("denied", r.out)
        self.ok("user", "passwd", "alice@example.com", "--password-stdin", stdin="a new long password\n")
        self.assertEqual(self.run_cmd("user", "login", "alice@example.com", "--password-stdin",
                                      stdin=PASSWORD + "\n").rc, 1)
        self.ok("user", "login", "alice@example.com", "--password-stdin", stdin="a new long password\n")
        self.fails(65, "user", "passwd", "alice@example.com", "--password-stdin", stdin="short\n")
        self.fails(66, "user", "passwd", "nobody@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        # Address check through the allowlist.
        self.ok("ip", "allow", "acme", "192.0.2.0/24")
        r = self.run_cmd("user", "login", "alice@example.com", "--password-stdin", "--address", "198.51.100.1",
                         stdin="a new long password\n", opts=("--json",))
        self.assertEqual((r.rc, r.json()["reason"]), (1, "ip_not_allowed"), r)

    def test_user_enable_disable_delete(self):
        self.account()
        self.user()
        self.assertTrue(self.js("user", "disable", "alice@example.com")["disabled"])
        r = self.run_cmd("user", "login", "alice@example.com", "--password-stdin", stdin=PASSWORD + "\n",
                         opts=("--json",))
        self.assertEqual((r.rc, r.json()["reason"]), (1, "user_disabled"), r)
        self.assertFalse(self.js("user", "enable", "alice@example.com")["disabled"])
        self.fails(64, "user", "delete", "alice@example.com", msg="--yes")
        self.ok("user", "delete", "alice@example.com", "--yes")
        self.fails(66, "user", "show", "alice@example.com")
        self.fails(66, "user", "delete", "alice@example.com", "--yes")
        self.fails(66, "user", "enable", "alice@example.com")

    # ---------------------------------------------------------- API keys
    def test_apikey_lifecycle(self):
        self.account()
        d = self.js("apikey", "create", "acme", "prod", "--scopes", "mail.send,keys.read", "--expires", "90d")
        self.assertRegex(d["key"], KEY_RE)
        self.assertEqual(d["id"], d["key"][5:17])
        self.assertEqual(d["scopes"], ["mail.send", "keys.read"])
        self.assertEqual(d["state"], "active")
        key, kid = d["key"], d["id"]
        # Text mode: the key alone on stdout, the notes on stderr.
        r = self.ok("apikey", "create", "acme", "other")
        self.assertRegex(r.out.strip(), KEY_RE)
        self.assertIn("only time", r.err)
        lst = self.js("apikey", "list", "acme")
        self.assertEqual(sorted(k["name"] for k in lst), ["other", "prod"])
        self.assertNotIn(key, self.ok("apikey", "list", "acme").out)
        self.assertTrue(all("key" not in k for k in lst))
        c = self.js("apikey", "check", key)
        self.assertEqual((c["valid"], c["account"], c["key_id"], c["reason"]), (True, "acme", kid, "ok"))
        self.assertIn("valid", self.ok("apikey", "check", key).out)
        self.fails(64, "apikey", "revoke", kid, msg="--yes")
        self.assertEqual(self.js("apikey", "revoke", kid, "--yes")["revoked"], True)
        r = self.run_cmd("apikey", "check", key, opts=("--json",))
        self.assertEqual((r.rc, r.json()["valid"], r.json()["reason"]), (1, False, "revoked"), r)
        self.fails(65, "apikey", "revoke", kid, "--yes", msg="already revoked")
        self.assertEqual([k["state"] for k in self.js("apikey", "list", "acme") if k["id"] == kid], ["revoked"])

    def test_apikey_bad_inputs(self):
        self.account()
        self.fails(65, "apikey", "create", "acme", "k", "--scopes", "mail.fly", msg="mail.send")
        self.fails(65, "apikey", "create", "acme", "k", "--expires", "yesterday")
        self.fails(65, "apikey", "create", "acme", "k", "--expires", "2001-01-01", msg="past")
        self.fails(66, "apikey", "create", "nosuch", "k")
        self.fails(66, "apikey", "revoke", "AAAAAAAAAAAA", "--yes")
        self.fails(65, "apikey", "revoke", "short", "--yes", msg="not a key id")
        r = self.run_cmd("apikey", "check", "not-a-key", opts=("--json",))
        self.assertEqual((r.rc, r.json()["reason"]), (1, "malformed_key"), r)
        d = self.js("apikey", "create", "acme", "k")
        bad = d["key"][:-1] + ("A" if d["key"][-1] != "A" else "B")
        r = self.run_cmd("apikey", "check", bad, opts=("--json",))
        self.assertEqual((r.rc, r.json()["valid"]), (1, False), r)
        self.assertIn(r.json()["reason"], ("bad_checksum", "wrong_secret"))
        self.fails(65, "apikey", "create", "acme", "k", msg="already has a key named 'k'")

    # ------------------------------------------------------ IP allowlist
    def test_ip_allow_list_check_remove(self):
        self.account()
        r = self.run_cmd("ip", "check", "acme", "203.0.113.9")
        self.assertEqual(r.rc, 0, r)  # an empty list allows every address
        self.assertIn("every address", self.ok("ip", "list", "acme").out)
        d = self.js("ip", "allow", "acme", "192.0.2.0/24", "--label", "office")
        self.assertEqual((d["cidr"], d["label"]), ("192.0.2.0/24", "office"))
        self.ok("ip", "allow", "acme", "2001:db8::/32")
        # A single address, or an IPv4-mapped network, is reported as stored.
        self.assertEqual(self.js("ip", "allow", "acme", "198.51.100.7")["cidr"], "198.51.100.7/32")
        self.assertEqual(self.js("ip", "allow", "acme", "::ffff:203.0.113.0/120")["cidr"], "203.0.113.0/24")
        self.ok("ip", "remove", "acme", "198.51.100.7")
        self.ok("ip", "remove", "acme", "203.0.113.0/24")
        lst = self.js("ip", "list", "acme")
        self.assertEqual(sorted(e["cidr"] for e in lst), ["192.0.2.0/24", "2001:db8::/32"])
        self.assertIn("office", self.ok("ip", "list", "acme").out)
        d = self.js("ip", "check", "acme", "192.0.2.77")
        self.assertEqual((d["allowed"], d["reason"]), (True, "ok"))
        r = self.run_cmd("ip", "check", "acme", "203.0.113.9", opts=("--json",))
        self.assertEqual((r.rc, r.json()["allowed"], r.json()["reason"]), (1, False, "ip_not_allowed"), r)
        r = self.run_cmd("ip", "check", "acme", "203.0.113.9")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("denied", r.out)
        self.assertTrue(self.js("ip", "remove", "acme", "192.0.2.0/24")["removed"])
        self.assertEqual([e["cidr"] for e in self.js("ip", "list", "acme")], ["2001:db8::/32"])

    def test_ip_bad_inputs(self):
        self.account()
        self.fails(65, "ip", "allow", "acme", "10.1.2.3/8",
                   msg="error: " + ("line 1: " if self.script else "") +
                   "'10.1.2.3/8' has host bits set; did you mean 10.0.0.0/8?")
        self.fails(65, "ip", "allow", "acme", "banana")
        self.fails(65, "ip", "allow", "acme", "10.0.0.0/33")
        self.ok("ip", "allow", "acme", "10.0.0.0/8")
        self.fails(65, "ip", "allow", "acme", "10.0.0.0/8", msg="already allowed")
        self.fails(66, "ip", "remove", "acme", "192.0.2.0/24", msg="not in the allowlist")
        self.fails(65, "ip", "check", "acme", "not-an-ip")
        self.fails(66, "ip", "allow", "nosuch", "10.0.0.0/8")
        self.fails(66, "ip", "list", "nosuch")

    # --------------------------------------------------------------- TLS
    def test_tls_show_set(self):
        self.account()
        self.assertEqual(self.js("tls", "show", "acme"),
                         {"account": "acme", "mode": "opportunistic", "require_valid_cert": False, "min_version": "1.2"})
        d = self.js("tls", "set", "acme", "--mode", "enforced", "--require-valid-cert", "on", "--min-version", "1.3")
        self.assertEqual((d["mode"], d["require_valid_cert"], d["min_version"]), ("enforced", True, "1.3"))
        self.assertIn("enforced", self.ok("tls", "show", "acme").out)
        self.fails(64, "tls", "set", "acme", "--mode", "none", msg="--yes")
        self.assertEqual(self.js("tls", "show", "acme")["mode"], "enforced")
        self.fails(65, "tls", "set", "acme", "--mode", "none", "--yes", msg="require-valid-cert")
        self.assertEqual(self.js("tls", "set", "acme", "--mode", "none", "--require-valid-cert", "off", "--yes")["mode"], "none")
        self.fails(64, "tls", "set", "acme", msg="say what to set")
        self.fails(64, "tls", "set", "acme", "--mode", "paranoid", msg="opportunistic, enforced or none")
        self.fails(64, "tls", "set", "acme", "--min-version", "1.1", msg="1.2 or 1.3")
        self.fails(64, "tls", "set", "acme", "--require-valid-cert", "sure")
        self.fails(66, "tls", "show", "nosuch")

    # ------------------------------------------------------------- audit
    def test_audit(self):
        self.account()
        self.account("other")
        self.user()
        self.ok("ip", "allow", "acme", "192.0.2.0/24")
        entries = self.js("audit", "acme", "--limit", "0")
        actions = [e["action"] for e in entries]
        self.assertEqual(actions[:3], ["account.add", "user.add", "ip.allow"])
        me = getpass.getuser()
        self.assertTrue(all(e["actor"] == "os:" + me for e in entries), entries)
        self.assertTrue(all(e["account"] == "acme" for e in entries))
        self.assertEqual(len(self.js("audit", "--limit", "2")), 2)
        self.assertEqual(self.js("audit", "--limit", "1")[0]["action"], "ip.allow")
        self.assertEqual(len(self.js("audit")), 4)
        self.assertEqual(self.js("audit", "--since", "2999-01-01"), [])
        self.assertIn("ip.allow", self.ok("audit").out)
        self.fails(64, "audit", "--limit", "ten", msg="--limit")
        self.fails(64, "audit", "--limit", "-1")
        self.fails(65, "audit", "--since", "last tuesday")

    # --------------------------------------------------------------- 2FA
    def test_2fa_enroll_confirm_verify(self):
        self.account()
        self.user()
        self.assertEqual(self.js("2fa", "status", "alice@example.com")["state"], "none")
        e = self.js("2fa", "enroll", "alice@example.com")
        self.assertTrue(e["uri"].startswith("otpauth://totp/"))
        self.assertEqual(secret_of(e["uri"]), e["secret"])
        self.assertIn("\n", e["qr"])
        self.assertEqual(self.js("2fa", "status", "alice@example.com")["state"], "pending")
        r = self.ok("2fa", "enroll", "alice@example.com", "--ascii")
        self.assertIn("##", r.out)
        self.assertIn("secret: ", r.out)
        self.assertIn("otpauth://totp/", r.out)
        secret = re.search(r"secret: (\S+)", r.out).group(1)
        self.fails(65, "2fa", "confirm", "alice@example.com", "000000" if totp(secret) != "000000" else "111111")
        c = self.js("2fa", "confirm", "alice@example.com", totp(secret))
        codes = c["recovery_codes"]
        self.assertEqual(len(codes), 10)
        self.assertTrue(all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", x) for x in codes), codes)
        s = self.js("2fa", "status", "alice@example.com")
        self.assertEqual((s["state"], s["recovery_codes_left"]), ("enabled", 10))
        self.fails(65, "2fa", "confirm", "alice@example.com", totp(secret, 1), msg="no pending")
        # One code, used twice: a step boundary between two oathtool runs
        # would otherwise give a fresh code and no replay to refuse.
        code = totp(secret, 1)
        d = self.js("2fa", "verify", "alice@example.com", code)
        self.assertEqual((d["valid"], d["reason"]), (True, "ok"))
        r = self.run_cmd("2fa", "verify", "alice@example.com", code, opts=("--json",))
        self.assertEqual((r.rc, r.json()["reason"]), (1, "code_replayed"), r)
        r = self.run_cmd("2fa", "verify", "alice@example.com", "12345x")
        self.assertEqual(r.rc, 1, r)
        # Login now needs the code.
        r = self.run_cmd("user", "login", "alice@example.com", "--password-stdin", stdin=PASSWORD + "\n",
                         opts=("--json",))
        self.assertEqual((r.rc, r.json()["reason"]), (1, "code_required"), r)
        d = self.js("user", "login", "alice@example.com", "--password-stdin", "--code", codes[0],
                    stdin=PASSWORD + "\n")
        self.assertTrue(d["allowed"])
        self.assertEqual(self.js("2fa", "status", "alice@example.com")["recovery_codes_left"], 9)
        # Replacing an enabled secret needs proof.
        self.fails(65, "2fa", "enroll", "alice@example.com", msg="--code")
        e = self.js("2fa", "enroll", "alice@example.com", "--code", codes[1])
        self.assertNotEqual(e["secret"], secret)

    def test_2fa_recovery_codes_disable_reset(self):
        self.account()
        self.user()
        self.user("bob@example.com")
        secret, codes = self.enroll()
        new = self.js("2fa", "recovery-codes", "alice@example.com")["recovery_codes"]
        self.assertEqual(len(new), 10)
        self.assertFalse(set(new) & set(codes))
        self.fails(65, "2fa", "disable", "alice@example.com", "--code", codes[0])  # old codes are gone
        self.ok("2fa", "disable", "alice@example.com", "--code", new[0])
        self.assertEqual(self.js("2fa", "status", "alice@example.com")["state"], "none")
        self.fails(65, "2fa", "disable", "alice@example.com", "--code", new[1], msg="no 2FA")
        self.enroll("bob@example.com")
        self.fails(64, "2fa", "reset", "bob@example.com", msg="--yes")
        self.assertEqual(self.js("2fa", "status", "bob@example.com")["state"], "enabled")
        self.assertEqual(self.js("2fa", "reset", "bob@example.com", "--yes")["state"], "none")
        self.fails(66, "2fa", "status", "nobody@example.com")
        self.fails(66, "2fa", "enroll", "nobody@example.com")
        self.fails(64, "2fa", "confirm", "bob@example.com")

    def test_2fa_missing_key_file(self):
        self.account()
        self.user()
        env = dict(self.env)
        bad = os.path.join(self.dir, "no", "such", "dir", "master.key")
        r = self.raw(["--db", self.db, "--key-file", bad, "2fa", "enroll", "alice@example.com"], env=env)
        self.assertIn(r.rc, (69, 77), r)
        self.assertRegex(r.err, r"^error: .*key", r)


class OneShot(CommandTests, clitest.Base):
    script = False


class Script(CommandTests, clitest.Base):
    script = True


if __name__ == "__main__":
    clitest.main()
