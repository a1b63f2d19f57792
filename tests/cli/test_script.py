"""Script mode (commands on a non-terminal standard input), the
invocation options and defaults, and the exit statuses for a store
that is unavailable, busy or not ours to open."""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import clitest
from clitest import PASSWORD


class Script(clitest.Base):
    def test_comments_blank_lines_and_quotes(self):
        r = self.raw([], stdin="# set up acme\n\naccount create acme   # trailing comment\n"
                               "ip allow acme 192.0.2.0/24 --label 'head office'\n"
                               "ip allow acme 198.51.100.0/24 --label \"branch \\\"b\\\"\"\n")
        self.assertEqual(r.rc, 0, r)
        labels = sorted(e["label"] for e in self.raw(["--json", "ip", "list", "acme"]).json())
        self.assertEqual(labels, ['branch "b"', "head office"])

    def test_stops_at_first_failing_line(self):
        r = self.raw([], stdin="account create acme\naccount show nosuch\naccount create never\n")
        self.assertEqual(r.rc, 66, r)
        self.assertIn("error: line 2: no account named 'nosuch'", r.err)
        self.assertIn("stopped at line 2", r.err)
        self.assertEqual(self.raw(["account", "show", "never"]).rc, 66)  # line 3 did not run
        self.assertEqual(self.raw(["account", "show", "acme"]).rc, 0)

    def test_a_check_saying_no_stops_the_script(self):
        r = self.raw([], stdin="account create acme\nip allow acme 192.0.2.0/24\n"
                               "ip check acme 203.0.113.1\naccount create after\n")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("stopped at line 3", r.err)
        self.assertEqual(self.raw(["account", "show", "after"]).rc, 66)

    def test_keep_going(self):
        r = self.raw(["--keep-going"], stdin="account show nosuch\nfrobnicate\naccount create acme\n")
        self.assertEqual(r.rc, 66, r)  # the first failure's status
        self.assertIn("line 1:", r.err)
        self.assertIn("line 2: unknown command 'frobnicate'", r.err)
        self.assertEqual(self.raw(["account", "show", "acme"]).rc, 0)

    def test_password_stdin_reads_the_next_line(self):
        r = self.raw([], stdin=f"account create acme\nuser add acme alice@example.com --password-stdin\n"
                               f"{PASSWORD}\nuser list acme\n")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("alice@example.com", r.out)
        self.assertNotIn(PASSWORD, r.out + r.err)
        r = self.raw(["user", "login", "alice@example.com", "--password-stdin"], stdin=PASSWORD + "\n")
        self.assertEqual(r.rc, 0, r)

    def test_json_one_document_per_command(self):
        r = self.raw(["--json"], stdin="account create acme\naccount create beta\naccount list\n"
                                       "account show nosuch\n")
        self.assertEqual(r.rc, 66, r)
        docs = r.docs()
        self.assertEqual(len(docs), 4)
        self.assertEqual([d["name"] for d in docs[:2]], ["acme", "beta"])
        self.assertEqual([a["name"] for a in docs[2]], ["acme", "beta"])
        self.assertEqual((docs[3]["status"], docs[3]["line"]), (66, 4))
        self.assertIn("nosuch", docs[3]["error"])

    def test_quit_ends_the_script(self):
        r = self.raw([], stdin="account create acme\nquit\naccount create beta\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.raw(["account", "show", "beta"]).rc, 66)

    def test_bad_lines(self):
        r = self.raw([], stdin="account create 'acme\n")
        self.assertEqual(r.rc, 64, r)
        self.assertIn("line 1: unbalanced quote", r.err)
        r = self.raw([], stdin="account create " + "a" * 5000 + "\naccount create ok\n")
        self.assertEqual(r.rc, 65, r)
        self.assertIn("longer than 4096", r.err)
        self.assertEqual(self.raw(["account", "show", "ok"]).rc, 66)
        r = self.raw([], stdin="account create " + " x" * 70 + "\n")
        self.assertEqual(r.rc, 64, r)
        self.assertIn("too many words", r.err)

    def test_confirmations_in_a_script(self):
        self.raw(["account", "create", "acme"])
        r = self.raw([], stdin="account delete acme\n")
        self.assertEqual(r.rc, 64, r)
        self.assertIn("--yes", r.err)
        self.assertEqual(self.raw(["account", "show", "acme"]).rc, 0)
        r = self.raw(["--yes"], stdin="account delete acme\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.raw(["account", "show", "acme"]).rc, 66)


class Invocation(clitest.Base):
    def test_help_and_version(self):
        r = self.raw(["--help"], db=False)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("usage: postern", r.out)
        self.assertIn("apikey create ACCOUNT NAME", r.out)
        r = self.raw(["--version"], db=False)
        self.assertRegex(r.out, r"^postern \d+\.\d+\.\d+")
        r = self.raw(["--frobnicate"], db=False)
        self.assertEqual(r.rc, 64, r)
        self.assertIn("error: unknown or incomplete option '--frobnicate'", r.err)
        r = self.raw(["--db"], db=False)
        self.assertEqual(r.rc, 64, r)

    def test_help_command(self):
        r = self.raw(["help"])
        self.assertEqual(r.rc, 0, r)
        for words in ("account create", "2fa enroll", "apikey check", "ip allow", "tls set", "audit", "quit"):
            self.assertIn(words, r.out)
        r = self.raw(["help", "apikey", "create"])
        self.assertEqual(r.rc, 0, r)
        self.assertIn("usage: apikey create ACCOUNT NAME", r.out)
        self.assertIn("example: apikey create acme prod", r.out)
        r = self.raw(["help", "ip"])
        self.assertIn("usage: ip allow", r.out)
        self.assertIn("usage: ip check", r.out)
        self.assertEqual(self.raw(["help", "frob"]).rc, 64)
        self.assertEqual(self.raw(["help", "ip", "frob"]).rc, 64)
        self.assertFalse(os.path.exists(self.db))  # help needs no database

    def test_db_from_environment_and_option(self):
        env = dict(self.env)
        other = os.path.join(self.dir, "env.db")
        env["POSTERN_DB"] = other
        env["POSTERN_KEY_FILE"] = self.key
        r = subprocess.run([clitest.POSTERN, "account", "create", "fromenv"], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(other))
        self.assertEqual(os.stat(other).st_mode & 0o777, 0o600)
        # --db wins over $POSTERN_DB.
        r = subprocess.run([clitest.POSTERN, "--db", self.db, "account", "show", "fromenv"], env=env,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 66, r.stderr)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "needs root to run as another user")
    def test_default_database_for_a_user_and_permission_status(self):
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        # Under /tmp: the other user must be able to reach it.
        top = tempfile.mkdtemp(prefix="postern-cli-nobody-", dir="/tmp")
        self.addCleanup(shutil.rmtree, top, True)
        os.chmod(top, 0o755)
        home = os.path.join(top, "home")
        os.mkdir(home)
        os.chown(home, 65534, 65534)
        env = dict(self.env, HOME=home)
        env.pop("XDG_DATA_HOME", None)
        probe = subprocess.run(nobody + [clitest.POSTERN, "--version"], env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            self.skipTest("the build directory is not reachable for another user: " + probe.stderr.strip())
        r = subprocess.run(nobody + [clitest.POSTERN, "--key-file", os.path.join(home, "k"), "account", "create", "a"],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(home, ".local/share/postern/postern.db")))
        xdg = os.path.join(home, "xdg")
        r = subprocess.run(nobody + [clitest.POSTERN, "account", "create", "a"], env=dict(env, XDG_DATA_HOME=xdg),
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(xdg, "postern/postern.db")))
        # Root's database, mode 0600: another user gets 77.
        rootdb = os.path.join(top, "root.db")
        self.assertEqual(self.raw(["--db", rootdb, "account", "create", "acme"], db=False).rc, 0)
        r = subprocess.run(nobody + [clitest.POSTERN, "--db", rootdb, "account", "list"], env=env,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertRegex(r.stderr, r"^error: cannot open the database")

    def test_unavailable_store(self):
        with open(self.db, "wb") as f:
            f.write(b"this is not an SQLite database, just some bytes" * 100)
        os.chmod(self.db, 0o600)
        r = self.raw(["account", "list"])
        self.assertEqual(r.rc, 69, r)
        self.assertRegex(r.err, r"^error: cannot open the database")

    def test_busy_store(self):
        self.assertEqual(self.raw(["account", "create", "acme"]).rc, 0)
        con = sqlite3.connect(self.db, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        try:
            r = self.raw(["account", "create", "beta"])
        finally:
            con.execute("ROLLBACK")
            con.close()
        self.assertEqual(r.rc, 75, r)
        self.assertRegex(r.err, r"^error: ")

    def test_file_mode_warning(self):
        self.assertEqual(self.raw(["account", "create", "acme"]).rc, 0)
        os.chmod(self.db, 0o644)
        r = self.raw(["account", "list"])
        self.assertEqual(r.rc, 0, r)
        self.assertIn("warning:", r.err)
        self.assertIn("chmod 600", r.err)


if __name__ == "__main__":
    clitest.main()
