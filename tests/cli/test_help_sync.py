"""The --help text, `help`, and docs/cli.md all come from (or must
match) the one command table."""
import os
import re
import subprocess
import unittest

import clitest

SOURCE = os.environ.get("POSTERN_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))


def help_commands():
    out = subprocess.run([clitest.POSTERN, "--help"], capture_output=True, text=True, check=True).stdout
    block = out.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    usages = [l[2:] for l in block.splitlines() if re.match(r"^  \S", l)]
    summaries = [l.strip() for l in block.splitlines() if l.startswith("      ")]
    return usages, summaries


def doc_commands():
    with open(os.path.join(SOURCE, "docs", "cli.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Commands\n", 1)[1]
    block = section.split("```\n", 2)[1]
    return [l for l in block.splitlines() if l.strip()]


class HelpSync(clitest.Base):
    def test_docs_list_every_command_of_the_table(self):
        usages, _ = help_commands()
        self.assertGreater(len(usages), 30)
        self.assertEqual(doc_commands(), usages)

    def test_each_command_has_a_summary_and_an_example(self):
        usages, summaries = help_commands()
        self.assertEqual(len(usages), len(summaries))
        for u in usages:
            words = [w for w in u.split() if re.fullmatch(r"[a-z0-9-]+", w)][:2]
            if words[0] in ("audit", "help", "quit", "exit"):
                words = words[:1]
            r = self.raw(["help"] + words, db=False)
            self.assertEqual(r.rc, 0, r)
            self.assertIn("usage: " + u, r.out)
            ex = re.search(r"example: (.*)", r.out)
            self.assertIsNotNone(ex, r.out)
            self.assertTrue(ex.group(1).startswith(" ".join(words)), (u, ex.group(1)))

    def test_help_lists_the_same_commands(self):
        usages, _ = help_commands()
        out = self.raw(["help"], db=False).out
        for u in usages:
            words = " ".join(w for w in u.split() if re.fullmatch(r"[a-z0-9-]+", w))
            first = " ".join(words.split()[:2]) if not words.startswith(("audit", "help", "quit", "exit")) \
                else words.split()[0]
            self.assertRegex(out, r"(?m)^  " + re.escape(first) + r"\s", first)

    def test_the_issue_words_are_all_there(self):
        usages, _ = help_commands()
        have = {" ".join(u.split()[:2]) for u in usages}
        for c in ("account create", "account list", "account show", "account enable", "account disable",
                  "account delete", "account set", "user add", "user passwd", "user list", "user show",
                  "user enable", "user disable", "user delete", "user login", "2fa enroll", "2fa confirm",
                  "2fa verify", "2fa status", "2fa disable", "2fa reset", "2fa recovery-codes", "apikey create",
                  "apikey list", "apikey revoke", "apikey check", "ip allow", "ip remove", "ip list", "ip check",
                  "tls show", "tls set"):
            self.assertIn(c, have)
        for c in ("audit", "help", "quit", "exit"):
            self.assertTrue(any(u.split()[0] == c for u in usages), c)


if __name__ == "__main__":
    clitest.main()
