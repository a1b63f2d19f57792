"""Self-service mode, postern --login: password then a TOTP code from
oathtool (or a recovery code), the client address from SSH_CONNECTION /
SSH_CLIENT checked against the allowlist, require_2fa refusing users
without 2FA, the scope (own account and its subaccounts only), the
actor in the audit log, and the lock-out guard."""
import os

import clitest
from clitest import PASSWORD, totp
from ptyharness import Pty

HOME_NET = "192.0.2.10 50022 127.0.0.1 22"


class Login(clitest.Base):
    def setUp(self):
        super().setUp()
        self.account("acme")
        self.account("acme-eu", "--parent", "acme")
        self.account("beta")
        self.user("alice@example.com", "acme")
        self.user("bob@example.com", "acme")
        self.user("eve@example.com", "beta")
        self.beta_key = self.js("apikey", "create", "beta", "theirs")["id"]

    def login(self, email, lines, code=None, ssh=HOME_NET, var="SSH_CONNECTION", opts=()):
        env = dict(self.env)
        if ssh:
            env[var] = ssh
        stdin = PASSWORD + "\n" + (code + "\n" if code else "") + "".join(l + "\n" for l in lines)
        return self.raw(list(opts) + ["--login", email], stdin=stdin, env=env)

    def audit(self, action):
        return [e for e in self.js("audit", "--limit", "0") if e["action"] == action]

    def test_login_with_password_and_totp_code(self):
        secret, codes = self.enroll("alice@example.com")
        r = self.login("alice@example.com", ["apikey create acme mine", "tls show acme", "ip list acme"],
                       code=totp(secret, 1), opts=("--json",))
        self.assertEqual(r.rc, 0, r)
        docs = r.docs()
        self.assertEqual(len(docs), 3, r)
        self.assertEqual(docs[0]["account"], "acme")
        self.assertTrue(docs[0]["key"].startswith("pstn_"))
        self.assertEqual(docs[1]["mode"], "opportunistic")
        ok = self.audit("login.allow")
        self.assertEqual(len(ok), 1)
        self.assertEqual((ok[0]["target"], ok[0]["address"]), ("alice@example.com", "192.0.2.10"))
        add = [e for e in self.audit("apikey.add") if e["target"] == docs[0]["id"]]
        self.assertEqual(add[0]["actor"], "user:alice@example.com")
        # A recovery code works once.
        r = self.login("alice@example.com", ["account list"], code=codes[0])
        self.assertEqual(r.rc, 0, r)
        r = self.login("alice@example.com", ["account list"], code=codes[0])
        self.assertEqual(r.rc, 77, r)
        # No code, or a wrong one: refused and audited.
        r = self.login("alice@example.com", ["account list"], code="000000" if totp(secret) != "000000" else "111111")
        self.assertEqual(r.rc, 77, r)
        self.assertIn("error: login refused", r.err)
        reasons = [e["detail"] for e in self.audit("login.deny")]
        self.assertTrue(any("bad_code" in (d or "") or "wrong" in (d or "") for d in reasons), reasons)

    def test_wrong_password_refused_and_audited(self):
        env = dict(self.env, SSH_CONNECTION=HOME_NET)
        r = self.raw(["--login", "bob@example.com"], stdin="not the password\naccount list\n", env=env)
        self.assertEqual(r.rc, 77, r)
        self.assertIn("error: login refused: wrong email or password", r.err)
        self.assertEqual(r.out, "")
        r = self.raw(["--login", "nobody@example.com"], stdin=PASSWORD + "\n", env=env)
        self.assertEqual(r.rc, 77, r)
        self.assertIn("wrong email or password", r.err)
        deny = self.audit("login.deny")
        self.assertEqual(len(deny), 2, deny)
        self.assertTrue(all(e["address"] == "192.0.2.10" for e in deny), deny)

    def test_refused_from_an_address_outside_the_allowlist(self):
        self.ok("ip", "allow", "acme", "192.0.2.0/24")
        r = self.login("bob@example.com", ["account list"], ssh="198.51.100.7 40000 127.0.0.1 22")
        self.assertEqual(r.rc, 77, r)
        self.assertIn("198.51.100.7", r.err)
        self.assertIn("allowlist", r.err)
        deny = self.audit("login.deny")
        self.assertEqual((deny[-1]["address"], deny[-1]["target"]), ("198.51.100.7", "bob@example.com"))
        self.assertIn("ip_not_allowed", deny[-1]["detail"] or "")
        # SSH_CLIENT is used when SSH_CONNECTION is absent.
        r = self.login("bob@example.com", ["account list"], ssh="198.51.100.7 40000 22", var="SSH_CLIENT")
        self.assertEqual(r.rc, 77, r)
        r = self.login("bob@example.com", ["account list"], ssh="192.0.2.99 40000 22", var="SSH_CLIENT")
        self.assertEqual(r.rc, 0, r)

    def test_require_2fa_refuses_users_without_it_and_says_how(self):
        self.ok("account", "set", "acme", "--require-2fa", "on")
        r = self.login("bob@example.com", ["account list"])
        self.assertEqual(r.rc, 77, r)
        self.assertIn("requires two-factor authentication", r.err)
        self.assertIn("2fa enroll bob@example.com", r.err)
        self.assertIn("2fa_not_enrolled", self.audit("login.deny")[-1]["detail"] or "")
        secret, _ = self.enroll("bob@example.com")
        r = self.login("bob@example.com", ["account list"], code=totp(secret, 1))
        self.assertEqual(r.rc, 0, r)

    def test_scope_own_account_and_subaccounts_only(self):
        good = ["account list", "account show acme", "account show acme-eu", "ip allow acme-eu 10.0.0.0/8",
                "ip list acme-eu", "apikey create acme-eu k", "tls set acme --mode enforced",
                "user passwd bob@example.com --password-stdin", "a brand new password", "2fa status bob@example.com",
                "user list acme", "audit"]
        r = self.login("bob@example.com", good, opts=("--json",))
        self.assertEqual(r.rc, 0, r)
        docs = r.docs()
        self.assertEqual([a["name"] for a in docs[0]], ["acme", "acme-eu"])
        self.assertEqual(self.js("tls", "show", "acme")["mode"], "enforced")
        self.assertTrue(all(e["account"] == "acme" for e in docs[-1]), docs[-1])
        self.assertEqual(self.run_cmd("user", "login", "bob@example.com", "--password-stdin",
                                      stdin="a brand new password\n").rc, 0)
        bad = ["account show beta", "ip list beta", "apikey list beta", "apikey create beta k",
               "apikey revoke " + self.beta_key + " --yes", "tls show beta", "tls set beta --mode enforced",
               "audit beta", "user list beta", "user show eve@example.com", "2fa status alice@example.com",
               "user passwd alice@example.com --password-stdin", "account create mine", "account delete acme --yes",
               "account disable acme", "user add acme x@example.com --password-stdin", "user delete alice@example.com --yes",
               "2fa reset alice@example.com --yes", "user login alice@example.com --password-stdin"]
        for line in bad:
            r = self.raw(["--login", "bob@example.com"], stdin="a brand new password\n" + line + "\n",
                         env=dict(self.env, SSH_CONNECTION=HOME_NET))
            self.assertEqual(r.rc, 77, (line, r))
            self.assertRegex(r.err, r"error: line 1: ", (line, r))
        self.assertEqual(self.js("tls", "show", "beta")["mode"], "opportunistic")
        self.assertEqual(self.js("apikey", "list", "beta")[0]["state"], "active")
        r = self.login("alice@example.com", ["help"])
        self.assertEqual(r.rc, 0, r)
        self.assertIn("apikey create", r.out)
        self.assertNotIn("account create", r.out)
        self.assertNotIn("2fa reset", r.out)

    def test_actions_audited_with_the_user_as_actor(self):
        r = self.login("bob@example.com", ["ip allow acme 192.0.2.0/24 --label home", "tls set acme --mode enforced"])
        self.assertEqual(r.rc, 0, r)
        for action in ("ip.allow", "tls.set"):
            e = self.audit(action)[-1]
            self.assertEqual(e["actor"], "user:bob@example.com", e)
        self.assertEqual(self.audit("account.add")[0]["actor"][:3], "os:")

    def test_lock_out_guard(self):
        self.ok("ip", "allow", "acme", "192.0.2.0/24")
        self.ok("ip", "allow", "acme", "10.0.0.0/8")
        r = self.login("bob@example.com", ["ip remove acme 192.0.2.0/24"])
        self.assertEqual(r.rc, 64, r)
        self.assertIn("you are logged in from 192.0.2.10", r.err)
        self.assertIn("lock", r.err)
        self.assertEqual(len(self.js("ip", "list", "acme")), 2)
        # A network that does not hold the address goes without a question.
        r = self.login("bob@example.com", ["ip remove acme 10.0.0.0/8"])
        self.assertEqual(r.rc, 0, r)
        r = self.login("bob@example.com", ["ip remove acme 192.0.2.0/24 --yes"])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.js("ip", "list", "acme"), [])
        # On an empty list, allowing only other networks would lock you out too.
        r = self.login("bob@example.com", ["ip allow acme 10.0.0.0/8"])
        self.assertEqual(r.rc, 64, r)
        self.assertIn("lock", r.err)
        r = self.login("bob@example.com", ["ip allow acme 192.0.2.0/25"])
        self.assertEqual(r.rc, 0, r)

    def test_interactive_login_through_a_terminal(self):
        secret, _ = self.enroll("alice@example.com")
        env = dict(self.env, TERM="xterm", SSH_CONNECTION=HOME_NET, POSTERN_HISTORY=os.path.join(self.dir, "h"))
        p = Pty([clitest.POSTERN, "--db", self.db, "--key-file", self.key, "--login"], env)
        try:
            p.expect("email: ")
            p.settle(want_raw=False, want_echo=True)
            p.send("alice@example.com\n")
            p.secret_prompt("password: ")
            p.send(PASSWORD + "\n")
            p.secret_prompt(r"2FA code \(or a recovery code\): ")
            code = totp(secret, 1)
            p.send(code + "\n")
            p.expect("logged in as alice@example.com, account 'acme', from 192.0.2.10")
            prompt = r"postern acme \(alice@example\.com\)> "
            p.prompt(prompt)
            p.send("apikey create acme laptop\n")
            p.expect(r"pstn_\w+")
            p.prompt(prompt)
            p.send("account create mine\n")
            p.expect("error: 'account create' is for administrators")
            p.prompt(prompt)
            p.send("ip list be\t")  # beta is not offered
            p.send("\x15apikey list acme\n")
            p.expect("laptop")
            p.prompt(prompt)
            p.send("\x04")
            self.assertEqual(p.wait(), 0)
        finally:
            if p.status is None:
                p.kill()
        self.assertNotIn(PASSWORD, p.text)
        self.assertNotIn(code, p.text)
        self.assertNotIn("ip list beta", p.text)


if __name__ == "__main__":
    clitest.main()
