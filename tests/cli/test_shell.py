"""The interactive shell, driven through a real pseudo-terminal: tab
completion of commands and of live account names and emails, the
no-echo password prompt, history across a restart without secrets,
Ctrl-C at the line prompt and at a password prompt, Ctrl-D, 2FA
enroll-then-confirm with a code from oathtool, confirmations, colour."""
import os
import re
import sqlite3
import stat

import clitest
from clitest import PASSWORD, totp
from ptyharness import Pty

PROMPT = r"postern test\.db> "


class Shell(clitest.Base):
    def setUp(self):
        super().setUp()
        self.env["TERM"] = "xterm"
        self.hist = os.path.join(self.dir, "history")
        self.env["POSTERN_HISTORY"] = self.hist
        self.ptys = []

    def tearDown(self):
        for p in self.ptys:
            if p.status is None:
                p.kill()
        super().tearDown()

    def shell(self, *extra, env=None):
        p = Pty([clitest.POSTERN, "--db", self.db, "--key-file", self.key, *extra], env or self.env)
        self.ptys.append(p)
        p.prompt(PROMPT)
        return p

    def cmd(self, p, line, until=PROMPT):
        p.send(line + "\n")
        return p.prompt(until) if until == PROMPT else p.expect(until)

    def quit(self, p):
        p.send("\x04")  # Ctrl-D
        self.assertEqual(p.wait(), 0, p.text)

    def test_completion_of_commands_and_names(self):
        self.account("acme")
        self.account("beta")
        self.user("alice@example.com", "acme")
        p = self.shell()
        # Command, sub-command and a live account name, each by Tab.
        p.send("acc\t")
        p.expect("account ")
        p.send("sh\t")
        p.expect("show ")
        p.send("ac\t")
        p.expect("acme ")
        p.send("\n")
        p.expect(r"name: +acme")
        p.prompt(PROMPT)
        # An email, live from the database.
        p.send("user show al\t")
        p.expect("alice@example.com ")
        p.send("\n")
        p.expect(r"email: +alice@example\.com")
        p.prompt(PROMPT)
        # An option.
        p.send("account create gamma --par\t")
        p.expect("--parent ")
        p.send("ac\t")
        p.expect("acme ")
        p.send("\n")
        p.expect("created account 'gamma'")
        p.prompt(PROMPT)
        # A key id, live: the only active key of the database.
        kid = self.js("apikey", "create", "acme", "k")["id"]
        p.send("apikey revoke \t")
        p.expect(kid + " ")
        p.send("--y\t")
        p.expect("--yes ")
        p.send("\n")
        p.expect("revoked key " + kid)
        p.prompt(PROMPT)
        # The value of an option.
        p.send("tls set acme --mode enf\t")
        p.expect("enforced ")
        p.send("--require-valid-cert o\t")
        p.expect(r"off +on")
        p.send("n\n")
        p.expect("mode: +enforced")
        p.prompt(PROMPT)
        # Several choices: listed.
        p.send("a\t")
        p.expect(r"account +apikey +audit")
        p.send("\x15")  # kill the line
        self.quit(p)
        self.assertEqual(self.js("account", "show", "gamma")["parent"], "acme")

    def test_no_echo_password_prompt(self):
        self.account()
        p = self.shell()
        p.send("user add acme bob@example.com\n")
        p.secret_prompt("password for the new user: ")
        p.send(PASSWORD + "\n")
        p.secret_prompt("again: ")
        p.send(PASSWORD + "\n")
        p.expect("added user bob@example.com")
        p.prompt(PROMPT)
        # Two different passwords: nothing is created.
        p.send("user add acme carol@example.com\n")
        p.secret_prompt("password for the new user: ")
        p.send(PASSWORD + "\n")
        p.secret_prompt("again: ")
        p.send(PASSWORD + "x\n")
        p.expect("error: the two passwords differ")
        p.prompt(PROMPT)
        self.quit(p)
        self.assertNotIn(PASSWORD, p.text)
        self.assertEqual(self.run_cmd("user", "show", "carol@example.com").rc, 66)
        r = self.run_cmd("user", "login", "bob@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        self.assertEqual(r.rc, 0, r)

    def test_history_survives_restart_without_secrets(self):
        self.account()
        self.user()
        key = self.js("apikey", "create", "acme", "k")["key"]
        p = self.shell()
        self.cmd(p, "ip allow acme 192.0.2.0/24 --label office")
        self.cmd(p, "apikey check " + key)
        self.cmd(p, "2fa verify alice@example.com 123456")
        self.cmd(p, "user login alice@example.com --code 654321", until="password: ")
        p.settle(want_raw=False, want_echo=False)
        p.send(PASSWORD + "\n")
        p.prompt(PROMPT)
        self.cmd(p, "user passwd alice@example.com", until="new password: ")
        p.settle(want_raw=False, want_echo=False)
        p.send("another long password\n")
        p.secret_prompt("again: ")
        p.send("another long password\n")
        p.prompt(PROMPT)
        self.cmd(p, PASSWORD)  # a password typed at the wrong prompt
        self.cmd(p, "account list")
        self.quit(p)
        st = os.stat(self.hist)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(self.hist, encoding="utf-8", errors="replace") as f:
            h = f.read()
        for secret in (key, "123456", "654321", PASSWORD.replace(" ", "\\040"), PASSWORD, "another"):
            self.assertNotIn(secret, h)
        self.assertIn("ip\\040allow", h)
        self.assertIn("user\\040passwd", h)
        # A new shell has the history: Up twice brings back "user passwd ...", once "account list".
        p = self.shell()
        p.send("\x1b[A")
        p.expect("account list")
        p.send("\n")
        p.expect(r"NAME +PARENT")
        p.prompt(PROMPT)
        self.quit(p)

    def test_history_file_created_0600_despite_umask(self):
        self.account()
        old = os.umask(0)
        try:
            p = self.shell()
        finally:
            os.umask(old)
        self.cmd(p, "account list")
        self.quit(p)
        self.assertEqual(stat.S_IMODE(os.stat(self.hist).st_mode), 0o600)

    def test_ctrl_c_cancels_the_line_and_the_prompt(self):
        self.account()
        p = self.shell()
        p.send("account create never")
        p.expect("never")
        p.send("\x03")
        p.expect(r"\^C")
        p.prompt(PROMPT)
        self.cmd(p, "account list")
        # At a password prompt: the command is cancelled, the shell stays.
        p.send("user add acme carol@example.com\n")
        p.secret_prompt("password for the new user: ")
        p.send("half a pass")
        p.send("\x03")
        p.expect("cancelled")
        p.prompt(PROMPT)
        self.cmd(p, "account show acme", until=r"name: +acme")
        p.prompt(PROMPT)
        self.quit(p)
        self.assertEqual(self.run_cmd("account", "show", "never").rc, 66)
        self.assertEqual(self.run_cmd("user", "show", "carol@example.com").rc, 66)

    def test_enroll_then_confirm_in_the_shell(self):
        self.account()
        self.user()
        p = self.shell()
        p.send("2fa enroll alice@example.com\n")
        secret = p.expect(r"secret: ([A-Z2-7]+)").group(1)
        p.expect("otpauth://totp/")
        p.expect("code from the app")
        p.settle(want_raw=False, want_echo=True)
        p.send(("000000" if totp(secret) != "000000" else "111111") + "\n")
        p.expect("error: ")
        p.expect("code from the app")
        p.settle(want_raw=False, want_echo=True)
        p.send(totp(secret) + "\n")
        p.expect("Recovery codes")
        p.prompt(PROMPT)
        codes = re.findall(r"(?m)^  ([a-z2-7]{5}-[a-z2-7]{5})\s*$", p.text)
        self.assertEqual(len(codes), 10, p.text)
        self.quit(p)
        s = self.js("2fa", "status", "alice@example.com")
        self.assertEqual((s["state"], s["recovery_codes_left"]), ("enabled", 10))
        d = self.js("user", "login", "alice@example.com", "--password-stdin", "--code", codes[3],
                    stdin=PASSWORD + "\n")
        self.assertTrue(d["allowed"])

    def test_confirmation_on_a_terminal(self):
        self.account()
        self.account("beta")
        p = self.shell()
        self.cmd(p, "account delete beta", until=r"\[y/N\] ")
        p.settle(want_raw=False)
        p.send("n\n")
        p.expect("cancelled: nothing was changed")
        p.prompt(PROMPT)
        self.cmd(p, "account delete beta", until=r"\[y/N\] ")
        p.settle(want_raw=False)
        p.send("y\n")
        p.expect("deleted account 'beta'")
        p.prompt(PROMPT)
        self.quit(p)
        self.assertEqual(self.run_cmd("account", "show", "beta").rc, 66)

    def test_errors_busy_store_and_missing_key_file_do_not_end_the_shell(self):
        self.account()
        self.user()
        bad = os.path.join(self.dir, "no", "such", "master.key")
        p = Pty([clitest.POSTERN, "--db", self.db, "--key-file", bad], self.env)
        self.ptys.append(p)
        p.prompt(PROMPT)
        self.cmd(p, "account show nosuch", until="error: no account named 'nosuch'")
        p.prompt(PROMPT)
        self.cmd(p, "frobnicate 'unbalanced", until="error: unbalanced quote")
        p.prompt(PROMPT)
        self.cmd(p, "2fa enroll alice@example.com", until=r"error: .*key")
        p.prompt(PROMPT)
        con = sqlite3.connect(self.db, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        try:
            self.cmd(p, "account create beta", until="error: ")
            p.prompt(PROMPT)
        finally:
            con.execute("ROLLBACK")
            con.close()
        self.cmd(p, "account create beta", until="created account 'beta'")
        p.prompt(PROMPT)
        self.cmd(p, "help apikey create", until="example: apikey create")
        p.prompt(PROMPT)
        self.quit(p)

    def test_colour_only_on_a_terminal_and_never_with_no_color(self):
        self.account()
        env = dict(self.env)
        env.pop("NO_COLOR", None)
        p = self.shell(env=env)
        self.cmd(p, "account list")
        self.cmd(p, "account show nosuch")
        self.quit(p)
        self.assertIn("\x1b[1mNAME", p.raw.decode())
        self.assertIn("\x1b[1;31merror:", p.raw.decode())
        p = self.shell()  # NO_COLOR=1
        self.cmd(p, "account list")
        self.cmd(p, "account show nosuch")
        self.quit(p)
        self.assertNotIn("\x1b[1m", p.raw.decode())
        self.assertNotIn("\x1b[1;31m", p.raw.decode())
        # Not a terminal: no colour even without NO_COLOR.
        r = self.raw(["account", "list"], env=env)
        self.assertNotIn("\x1b[", r.out + r.err)


if __name__ == "__main__":
    clitest.main()
