"""Shared helpers for the postern shell's tests.

Each test gets a fresh directory with its own database file and 2FA
master key file, and runs the real `postern` binary (path in $POSTERN)
either once per command (one-shot mode) or with the command as a line
on standard input (script mode).  Codes come from the real oathtool.
"""
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import unittest
from urllib.parse import parse_qs, urlparse

POSTERN = os.environ.get("POSTERN", "")
PASSWORD = "correct horse battery"


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def json(self):
        return json.loads(self.out)

    def docs(self):
        """Every JSON document printed, in order."""
        dec, i, out = json.JSONDecoder(), 0, []
        s = self.out
        while True:
            while i < len(s) and s[i].isspace():
                i += 1
            if i >= len(s):
                return out
            d, i = dec.raw_decode(s, i)
            out.append(d)

    def __repr__(self):
        return f"rc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def totp(secret, offset=0):
    """The current TOTP code of a base32 secret (offset in 30 s steps), by oathtool."""
    args = ["oathtool", "--totp", "-b"]
    if offset:
        args += ["-N", f"now + {30 * offset} seconds"]
    return subprocess.run(args + [secret], check=True, capture_output=True, text=True).stdout.strip()


def secret_of(uri):
    return parse_qs(urlparse(uri).query)["secret"][0]


class Base(unittest.TestCase):
    """A fresh database per test; `run` is one command, in one-shot or script mode."""

    script = False

    def setUp(self):
        if not POSTERN:
            self.fail("POSTERN is not set")
        self.dir = tempfile.mkdtemp(prefix="postern-cli-", dir=os.environ.get("TMPDIR"))
        self.db = os.path.join(self.dir, "test.db")
        self.key = os.path.join(self.dir, "master.key")
        self.env = dict(os.environ)
        for k in ("POSTERN_DB", "POSTERN_KEY_FILE", "POSTERN_HISTORY", "SSH_CONNECTION", "SSH_CLIENT"):
            self.env.pop(k, None)
        self.env["HOME"] = self.dir
        # Never the machine's /etc/postern/master.key, even where a test gives no --key-file.
        self.env["POSTERN_KEY_FILE"] = self.key
        self.env["NO_COLOR"] = "1"

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def raw(self, args, stdin="", env=None, db=True):
        full = [POSTERN] + (["--db", self.db, "--key-file", self.key] if db else []) + list(args)
        p = subprocess.run(full, input=stdin, capture_output=True, text=True, env=env or self.env, timeout=60)
        return Result(p.returncode, p.stdout, p.stderr)

    def run_cmd(self, *args, stdin="", opts=(), env=None):
        """Run one command; `stdin` is what --password-stdin reads."""
        if self.script:
            line = shlex.join(args) + "\n"
            return self.raw(list(opts), stdin=line + stdin, env=env)
        return self.raw(list(opts) + list(args), stdin=stdin, env=env)

    def ok(self, *args, **kw):
        r = self.run_cmd(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def js(self, *args, **kw):
        r = self.run_cmd(*args, opts=("--json",), **kw)
        self.assertEqual(r.rc, 0, r)
        return r.json()

    def fails(self, status, *args, msg=None, **kw):
        r = self.run_cmd(*args, **kw)
        self.assertEqual(r.rc, status, r)
        if status not in (0, 1):
            self.assertRegex(r.err, r"(?m)^error: ", r)
        if msg:
            self.assertIn(msg, r.err, r)
        return r

    # Fixtures built through the shell itself.
    def account(self, name="acme", *extra):
        self.ok("account", "create", name, *extra)

    def user(self, email="alice@example.com", account="acme", password=PASSWORD):
        self.ok("user", "add", account, email, "--password-stdin", stdin=password + "\n")

    def enroll(self, email="alice@example.com"):
        """Enroll and confirm 2FA; returns (secret, recovery codes)."""
        e = self.js("2fa", "enroll", email)
        secret = secret_of(e["uri"])
        c = self.js("2fa", "confirm", email, totp(secret))
        return secret, c["recovery_codes"]


def main():
    unittest.main(verbosity=2)
