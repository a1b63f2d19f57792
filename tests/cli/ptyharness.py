"""A small expect-like harness over a real pseudo-terminal (pty.fork),
so the interactive shell runs exactly as on a person's terminal: libedit
in raw mode, echo off at password prompts, Ctrl-C as SIGINT."""
import os
import pty
import re
import select
import signal
import struct
import fcntl
import termios
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r")


class Pty:
    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        self.raw = b""      # everything the terminal showed
        self.pos = 0        # where the next expect starts, in the cleaned text
        self.status = None

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return None
        if not data:
            return None
        self.raw += data
        return True

    @property
    def text(self):
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def expect(self, pattern, timeout=30):
        """Wait until `pattern` (a regex) shows after the previous match; return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self._read(left) is None:
                m = rx.search(self.text, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                raise AssertionError(f"did not see {pattern!r}; the terminal showed:\n{self.text[self.pos - 2000 if self.pos > 2000 else 0:]}")

    def settle(self, want_raw=None, want_echo=None, timeout=30):
        """Wait until the program has set the terminal up for its next read:
        raw (libedit's line editor) or cooked, echo on or off."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lflag = termios.tcgetattr(self.fd)[3]
            raw = not (lflag & termios.ICANON)
            echo = bool(lflag & termios.ECHO)
            if (want_raw is None or raw == want_raw) and (want_echo is None or echo == want_echo):
                return
            self._read(0.02)
        raise AssertionError(f"the terminal never became raw={want_raw} echo={want_echo}")

    def prompt(self, pattern, timeout=30):
        """Wait for the shell's prompt and for libedit to be reading."""
        m = self.expect(pattern, timeout)
        self.settle(want_raw=True)
        return m

    def secret_prompt(self, pattern, timeout=30):
        """Wait for a no-echo prompt; fails if echo stays on."""
        m = self.expect(pattern, timeout)
        self.settle(want_raw=False, want_echo=False)
        return m

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def drain(self, quiet=0.3):
        while self._read(quiet):
            pass

    def wait(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read(0.1)
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                while self._read(0.05):
                    pass
                os.close(self.fd)
                return self.status
        self.kill()
        raise AssertionError("the shell did not exit; it showed:\n" + self.text[-2000:])

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass
