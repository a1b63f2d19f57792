"""What the end-to-end tests with a real Postfix share (tests/e2e/e2e.py and
tests/e2e/sts.py, both run by run.sh as SCRIPT BUILD_DIR SOURCE_DIR): the
work directories, logging and checks, bounded waits, running the CLI,
starting servers, postern-hookd's command (under valgrind unless
E2E_VALGRIND=0), a submission over 587, what the sinks received, Postfix's
log, and the end of a run (everything stopped; the directories removed,
or kept with the reasons when something failed).

    import e2elib
    from e2elib import CLI, check, cli, ...
    W, DB, PF, CERTS = e2elib.init("e2e-sts")
"""
import glob
import gzip
import json
import os
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time

BUILD, SRC = sys.argv[1], sys.argv[2]
E2E = os.path.join(SRC, "tests", "e2e")
CLI = os.path.join(BUILD, "cli", "postern")
HOOKD = os.path.join(BUILD, "smtp-hook", "postern-hookd")

NAME = "e2e"
POLL = 0.2
W = DB = PF = CERTS = None
procs = []     # stopped (SIGKILL) at the end
failures = []  # what check() found wrong, and a broken harness


def init(name, poll=0.2):
    """Make this run's directories; name starts every log line and their names.
    Returns (W, DB, PF, CERTS): the work directory in the build tree, the
    database in it, Postfix's instance (in /tmp: its own directories need
    world-enterable parents, not the build tree) and the certificates."""
    global NAME, POLL, W, DB, PF, CERTS
    NAME, POLL = name, poll
    base = os.path.join(BUILD, "tests", "tmp")
    os.makedirs(base, exist_ok=True)
    W = tempfile.mkdtemp(prefix=name + "-", dir=base)
    DB = os.path.join(W, "db", "postern.db")
    PF = tempfile.mkdtemp(prefix="postern-%s-postfix-" % name, dir="/tmp")
    os.chmod(PF, 0o755)
    CERTS = os.path.join(W, "certs")
    return W, DB, PF, CERTS


def log(msg):
    print("%s: %s" % (NAME, msg), flush=True)


def check(cond, what):
    log(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)
    return cond


def wait_for(pred, what, timeout=30):
    """Poll pred() until true (bounded); the result is asserted by the caller."""
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(POLL)
    log("gave up waiting for " + what)
    return pred()


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def cli(*args, json_out=False):
    a = [CLI, "--db", DB, "--key-file", os.path.join(W, "db", "master.key"), "--yes"]
    if json_out:
        a.append("--json")
    out = run(*(a + list(args)))
    return json.loads(out) if json_out else out


def listening(addr, port, udp=False):
    return re.search(r"%s:%d\s" % (re.escape(addr), port), run("ss", "-lnuH" if udp else "-ltnH")) is not None


def start(cmd, what, ready, logname, timeout=30):
    """Start cmd (stopped at the end), its standard error in W/logname; return once ready() is true."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(W, logname), "w"))
    procs.append(p)
    if not wait_for(lambda: ready() or p.poll() is not None, what, timeout) or p.poll() is not None:
        raise SystemExit("%s did not start: %s" % (what, open(os.path.join(W, logname)).read()[-2000:]))
    return p


def hookd_cmd(conf):
    """postern-hookd in the foreground on conf, under valgrind (W/valgrind.log) unless E2E_VALGRIND=0."""
    cmd = [HOOKD, "-f", "-d", "-c", conf]
    if os.environ.get("E2E_VALGRIND", "1") != "0" and shutil.which("valgrind"):
        cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect",
               "--log-file=" + os.path.join(W, "valgrind.log")] + cmd
        log("postern-hookd runs under valgrind")
    return cmd


# ---------------------------------------------------------------- submission

def tls_context():
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
    ctx.check_hostname = False  # we connect to 127.0.0.1; the CA is the test's own
    return ctx


def session(port=587):
    if port == 465:
        s = smtplib.SMTP_SSL("127.0.0.1", port, context=tls_context(), timeout=60)
        s.ehlo("client.test")
    else:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
    return s


def login(s, key, mech="PLAIN"):
    """One AUTH with one mechanism (smtplib's login() would retry with the next)."""
    s.user, s.password = "apikey", key
    s.auth(mech, getattr(s, "auth_" + mech.lower()), initial_response_ok=(mech == "PLAIN"))


def message(sender, rcpt, subject):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n"
            "Test message %s.\r\n" % (sender, rcpt, subject, subject.replace(" ", "."), subject))


def smtp_quit(s):
    try:
        s.quit()
    except (smtplib.SMTPException, OSError):
        pass


def submit(key, sender, rcpt, subject, port=587, mech="PLAIN"):
    """Send one message as apikey; (code, text) of the first refusal, or (250, '') when accepted."""
    s = session(port)
    try:
        try:
            login(s, key, mech)
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error.decode(errors="replace")
        try:
            s.sendmail(sender, [rcpt], message(sender, rcpt, subject))
        except smtplib.SMTPRecipientsRefused as e:
            code, text = list(e.recipients.values())[0]
            return code, text.decode(errors="replace")
        except smtplib.SMTPResponseException as e:
            return e.smtp_code, e.smtp_error.decode(errors="replace")
        return 250, ""
    finally:
        smtp_quit(s)


# ---------------------------------------------------------------- looking at the results

def sink_log(name):
    path = os.path.join(W, "sink-" + name, "log.jsonl")
    out = []
    if os.path.exists(path):
        for line in open(path):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written
    return out


def sink_messages(name):
    """[(record, text)] of what a sink received."""
    out = []
    for rec in sink_log(name):
        with open(os.path.join(W, "sink-" + name, "%04d.eml" % rec["n"])) as f:
            out.append((rec, f.read()))
    return out


def with_subject(name, subject):
    return [(r, t) for r, t in sink_messages(name) if re.search(r"^Subject: %s$" % re.escape(subject), t, re.M)]


def maillog():
    """Postfix's whole log: the files "postfix logrotate" made (gzip'd), oldest first, then the current one."""
    out = []
    for path in sorted(glob.glob(os.path.join(PF, "log", "maillog.*"))) + [os.path.join(PF, "log", "maillog")]:
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rt") as f:
                    out.append(f.read())
            else:
                with open(path) as f:
                    out.append(f.read())
        except (OSError, EOFError):
            pass  # being compressed just now
    return "".join(out)


# ---------------------------------------------------------------- the end

def stop_hookd(hookd):
    """postern-hookd stops cleanly on SIGTERM (under valgrind: no error or leak); Postfix logged no fatal or panic."""
    hookd.send_signal(signal.SIGTERM)
    rc = hookd.wait(120)
    vg = os.path.join(W, "valgrind.log")
    check(rc == 0, "postern-hookd exited 0 on SIGTERM%s" % ((" (valgrind: %s)" % open(vg).read()[-2000:])
                                                           if rc and os.path.exists(vg) else ""))
    check("fatal" not in maillog() and "panic" not in maillog(), "no fatal or panic in Postfix's log")


def main(body, hookd, kept):
    """Run body(); a broken harness is a failure too, with its reason.  Then stop
    Postfix, the daemon (hookd(): the current one, or None) and procs; exit 1
    with the failures, keeping W (kept: what is there) and PF, or remove them."""
    try:
        body()
    except (Exception, SystemExit) as e:
        import traceback
        traceback.print_exc()
        failures.append("harness: %s" % e)
    finally:
        subprocess.run(["sh", os.path.join(E2E, "postfix-instance.sh"), PF, CERTS, "stop"])
        h = hookd()
        if h is not None and h.poll() is None:
            h.kill()
            h.wait()
        for p in procs:
            p.kill()
            p.wait()
        if failures:
            log("%d failure(s); kept %s (%s) and %s (Postfix, log/maillog)" % (len(failures), W, kept, PF))
            for f in failures:
                log("  " + f)
            sys.exit(1)
        shutil.rmtree(W, ignore_errors=True)
        shutil.rmtree(PF, ignore_errors=True)
        log("all scenarios passed")
