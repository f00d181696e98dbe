#!/usr/bin/env python3
"""Drives the real xdock-agent over pipes, speaking the protocol of
common/proto.h, against the pytest suite in agent_suite/. Every line the
agent writes must be valid UTF-8 JSON; every check is counted and the last
line says `agent: N passed, M failed`. Exit status 1 if anything failed.

Usage: agent_driver.py --agent PATH --suite DIR --python PY [--docker-image IMG --label L]
"""

import argparse
import ctypes
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import re
import time

# The protocol version both sides are built with, read from the contract.
_SRC = os.environ.get("XDOCK_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
with open(os.path.join(_SRC, "common", "proto.h")) as _f:
    PROTO_VERSION = int(re.search(r"#define PROTO_VERSION (\d+)", _f.read()).group(1))

RESULTS = {"passed": 0, "failed": 0}
# The agent's exit codes (common/error.h).
EXIT_OK, EXIT_INTERRUPTED, EXIT_INTERNAL = 0, 2, 3
# What agent_suite/test_weird.py::test_noisy writes to its stdout.
NOISY_STDOUT = 1024 * 1024 + len(b'{"t":"done"}\n{"t":"crash","i":0}\n')


def check(cond, what, detail=""):
    if cond:
        RESULTS["passed"] += 1
        print("ok   " + what)
    else:
        RESULTS["failed"] += 1
        print("FAIL " + what + (": " + str(detail)[:400] if detail != "" else ""))
    return cond


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it has no process left to leak.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pid, seconds):
    """Polls until pid is gone; a deadline, not a window: a loaded
    machine only makes it take longer."""
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class CreateWatch:
    """Names created in a directory from now on (inotify IN_CREATE, through
    libc: the stdlib has no binding)."""

    IN_CREATE = 0x100

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or self.libc.inotify_add_watch(self.fd, path.encode(), self.IN_CREATE) < 0:
            raise OSError(ctypes.get_errno(), "inotify on " + path)
        self.names = []

    def seen(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            off = 0
            while off + 16 <= len(data):
                _, _, _, n = struct.unpack_from("iIII", data, off)
                self.names.append(data[off + 16:off + 16 + n].rstrip(b"\0").decode(errors="replace"))
                off += 16 + n
        os.close(self.fd)
        return bool(self.names)


class Agent:
    """One agent process. lines() are parsed messages; raw bytes are kept
    so the test can also assert that nothing but protocol lines arrived."""

    def __init__(self, cmd, env=None):
        self.cmd = cmd
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, bufsize=0)
        self.pending = b""
        self.eof = False
        self.messages = []
        self.bad_lines = []
        os.set_blocking(self.proc.stdout.fileno(), False)

    def send(self, obj_or_line):
        line = obj_or_line if isinstance(obj_or_line, str) else json.dumps(
            obj_or_line, separators=(",", ":"))
        self._write(line.encode() + b"\n")

    def _write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def _read(self, timeout):
        """The next bytes, b"" at EOF; None when none came within timeout."""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout)
        sel.close()
        if not ready:
            return None
        # Non-blocking: None when the wake-up had nothing after all.
        return self.proc.stdout.read(1 << 20)

    def _fill(self, timeout):
        chunk = self._read(timeout)
        if chunk is None:
            return False
        if chunk == b"":
            self.eof = True
            return False
        self.pending += chunk
        return True

    def next(self, timeout=30.0):
        """Returns the next message, or None at EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            nl = self.pending.find(b"\n")
            if nl >= 0:
                raw, self.pending = self.pending[:nl], self.pending[nl + 1:]
                try:
                    msg = json.loads(raw.decode("utf-8", "strict"))
                    if not isinstance(msg, dict) or "t" not in msg:
                        raise ValueError("not a message")
                except ValueError:
                    self.bad_lines.append(raw)
                    continue
                self.messages.append(msg)
                if msg["t"] == "ev":
                    # xdist's worker events, for the controller: kept in
                    # messages, out of the worker protocol checked here.
                    continue
                return msg
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                return None
            self._fill(left)

    def until(self, kind, timeout=30.0):
        """Messages up to and including the first of type kind."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.0, deadline - time.monotonic()))
            if msg is None:
                return got, None
            got.append(msg)
            if msg["t"] == kind:
                return got, msg

    def hello(self, version=PROTO_VERSION):
        self.send({"t": "hello", "v": version})
        return self.next()

    def wait(self, timeout=30.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stderr(self):
        try:
            return self.proc.stderr.read().decode("utf-8", "replace")
        except Exception:
            return ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class SockAgent(Agent):
    """An agent given --channel: the protocol goes over the socket it
    connects to; its stdout is read on the side (raw) and must stay empty."""

    def __init__(self, cmd, listener, env=None):
        super().__init__(cmd, env=env)
        listener.settimeout(30)
        try:
            self.sock, _ = listener.accept()
        except OSError:
            self.sock = None
        self.stdout_raw = b""

    def _write(self, data):
        self.sock.sendall(data)

    def close_stdin(self):
        self.sock.shutdown(socket.SHUT_WR)

    def _read(self, timeout):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1 << 20)
        except socket.timeout:
            return None

    def side_stdout(self):
        try:
            while True:
                chunk = self.proc.stdout.read(1 << 20)
                if not chunk:
                    break
                self.stdout_raw += chunk
        except (BlockingIOError, ValueError):
            pass
        return self.stdout_raw


class Driver:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="xdock-agent-test.")
        self.env = dict(os.environ)
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env["TMPDIR"] = self.tmp
        self.env.pop("PYTEST_ADDOPTS", None)

    def spawn(self, pytest_args, agent_opts=(), env=None):
        cmd = [*self.args.wrap.split(), self.args.agent, *agent_opts, "--", self.args.python, "-m", "pytest", *pytest_args]
        e = dict(self.env)
        e.update(env or {})
        return Agent(cmd, env=e)

    def results_by_index(self, msgs):
        return {m["i"]: m for m in msgs if m["t"] == "result"}

    def run_all(self, a):
        """After hello: the collection, every test in one run, bye; returns
        the collection (None if none came), the messages to the exit and
        the exit message."""
        col = a.next(60)
        if not col or col["t"] != "collected":
            col = None
        a.send({"t": "run", "i": list(range(len(col["items"]) if col else 0))})
        a.send({"t": "bye"})
        msgs, ex = a.until("exit", timeout=60)
        return col, msgs, ex

    # -- the checks --------------------------------------------------------

    def t_version_mismatch(self):
        # Two traces a runner would leave, both outlasting the agent (which
        # removes its temp dir on exit): every runner start first makes a
        # temp dir in $TMPDIR, seen here by inotify however soon it is
        # removed again; and the runner's command writes a marker outside
        # that dir as soon as it runs.
        created = CreateWatch(self.tmp)
        mark_dir = tempfile.mkdtemp(prefix="xdock-agent-mark.")
        mark = os.path.join(mark_dir, "runner-started")
        cmd = [*self.args.wrap.split(), self.args.agent, "--", "sh", "-c",
               'echo "$$" >"$1"; exec "$2" -m pytest test_crash.py', "sh", mark, self.args.python]
        a = Agent(cmd, env=self.env)
        msg = a.hello(version=99)
        check(msg == {"t": "error",
                      "message": "protocol version mismatch: agent speaks %d, orchestrator 99" % PROTO_VERSION},
              "version mismatch is rejected with the exact error", msg)
        check(a.wait(10) == EXIT_INTERNAL, "version mismatch exits 3", a.proc.returncode)
        a.kill()
        check(not os.path.exists(mark), "no runner after a mismatch (its start marker is absent)",
              open(mark).read() if os.path.exists(mark) else "")
        check(not created.seen(), "no runner temp dir was ever made after a mismatch", created.names)
        subprocess.run(["rm", "-rf", mark_dir])

    def t_main(self):
        events = os.path.join(self.tmp, "events.log")
        files = ["test_basic.py", "test_other.py", "test_weird.py"]
        a = self.spawn(files, env={"XDOCK_SUITE_EVENTS": events})
        msg = a.hello()
        check(msg is not None and msg.get("t") == "hello" and msg.get("v") == PROTO_VERSION
              and msg.get("pid") == a.proc.pid, "hello reply carries v=1 and the agent's pid", msg)
        col = a.next()
        ids = [it["id"] for it in col["items"]] if col and col["t"] == "collected" else None
        expect = [
            "test_basic.py::test_pass", "test_basic.py::test_fail",
            "test_basic.py::test_setup_error", "test_basic.py::test_skip",
            "test_basic.py::test_xfail", "test_basic.py::test_xpass",
            "test_basic.py::test_xpass_strict", "test_basic.py::test_last_of_module",
            "test_other.py::test_other",
            "test_weird.py::test_ids[plain]", 'test_weird.py::test_ids[say "hi"]',
            "test_weird.py::test_ids[line\nbreak]", "test_weird.py::test_ids[emoji \U0001f600]",
            "test_weird.py::test_ids[back\\slash]",
            "test_weird.py::test_bad_utf8_output", "test_weird.py::test_noisy",
        ]
        check(ids == expect, "collected node ids are exact (quotes, newline, emoji)", ids)
        if not col or col["t"] != "collected":
            return
        check(col["errors"] == [], "no collection errors", col["errors"])
        items = col["items"]
        check(items[7]["group"] == "db" and items[0]["group"] is None
              and items[8]["file"] == "test_other.py",
              "file and xdist_group are reported", items[7:9])
        n = len(items)
        # Two batches, the second only after the first has produced results:
        # the held item must wait for the second batch (nextitem) to run.
        a.send({"t": "run", "i": list(range(0, 5))})
        first, _ = a.until("result", timeout=30)
        a.send({"t": "run", "i": list(range(5, n)) + [n + 5]})
        a.send({"t": "bye"})
        rest, done = a.until("done", timeout=60)
        msgs = first + rest
        check(done is not None, "runner sends done after bye", msgs[-3:])
        _, ex = a.until("exit", timeout=30)
        check(ex is not None and ex["status"] == 1, "exit message with pytest's status 1", ex)
        check(a.wait(10) == 0, "agent exits 0 after the runner", a.proc.returncode)
        check(a.bad_lines == [], "every line is valid UTF-8 JSON", a.bad_lines[:3])
        res = self.results_by_index(msgs)
        outcomes = {i: res[i]["outcome"] for i in res}
        want = {0: "passed", 1: "failed", 2: "error", 3: "skipped", 4: "xfailed",
                5: "xpassed", 6: "failed", 7: "passed", 8: "passed", 9: "passed",
                10: "passed", 11: "passed", 12: "passed", 13: "passed", 14: "failed",
                15: "passed", n + 5: "error"}
        check(outcomes == want, "outcomes pass/fail/error/skip/xfail/xpass/strict", outcomes)
        starts = [m["i"] for m in msgs if m["t"] == "start"]
        check(starts == list(range(n)) + [n + 5], "one start per index, in order", starts)
        order_ok = all(
            msgs[k]["t"] == "start" and msgs[k + 1]["t"] == "result" and msgs[k + 1]["i"] == msgs[k]["i"]
            for k in range(len(msgs)) if msgs[k]["t"] == "start")
        check(order_ok, "each start is followed by its own result")
        if 1 in res:
            r = res[1]
            check(r["when"] == "call" and "assert (1 + 1) == 3" in r["longrepr"]
                  and r["stdout"] == "out of test_fail\n" and r["duration"] > 0,
                  "failure carries when, longrepr, captured stdout, duration", r)
        if 2 in res:
            check(res[2]["when"] == "setup" and "fixture exploded" in res[2]["longrepr"],
                  "setup error reports when=setup", res[2])
        if 3 in res:
            check("not today" in res[3]["longrepr"], "skip reason reported", res[3])
        if 14 in res:
            r = res[14]
            check("\ufffd" in r["stdout"] and "bad " in r["stdout"]
                  and "emoji \U0001f600" in r["stderr"],
                  "invalid UTF-8 and emoji in output come through", r)
        if 15 in res:
            r = res[15]
            check(r["stdout"].endswith(" ...[truncated %d bytes]" % (NOISY_STDOUT - 65536))
                  and len(r["stdout"].encode()) < 66000,
                  "1 MB of test stdout is capped at 64 KiB with a note", len(r["stdout"]))
            # stdout is cut before its fake lines; stderr keeps its one.
            check('{"t":"exit"' in r["stderr"] and [m["t"] for m in msgs].count("done") == 1
                  and not any(m["t"] in ("crash", "exit") for m in msgs[:-1]),
                  "fake protocol lines written to fd 1/2 stay inside the result", r["stderr"])
        ev = open(events).read().splitlines() if os.path.exists(events) else []
        want_ev = ["setup test_basic", "test test_pass", "test test_fail",
                   "test test_last_of_module", "teardown test_basic",
                   "setup test_other", "test test_other", "teardown test_other"]
        check(ev == want_ev, "module fixture: set up and torn down once, at the right time", ev)
        # What may stay in $TMPDIR: the test's own events.log and pytest's
        # basetemp (pytest-of-<user>, made for the worker as xdist's
        # controller makes it, and kept by pytest's own retention).
        left = [n for n in os.listdir(self.tmp) if n != "events.log" and not n.startswith("pytest-of-")]
        check(not left, "plugin temp dir removed", os.listdir(self.tmp))

    def t_output_cap(self):
        a = self.spawn(["test_weird.py::test_noisy"], agent_opts=["--output-cap", "1000"])
        a.hello()
        a.until("collected")
        a.send({"t": "run", "i": [0]})
        a.send({"t": "bye"})
        msgs, _ = a.until("exit")
        res = self.results_by_index(msgs)
        out = res.get(0, {}).get("stdout", "")
        check(out.startswith("x" * 1000) and out.endswith(" ...[truncated %d bytes]" % (NOISY_STDOUT - 1000)),
              "--output-cap reaches the plugin", out[-60:])
        check(a.wait(10) == EXIT_OK, "--output-cap run: agent exits 0", a.proc.returncode)

    def t_collect_error(self):
        a = self.spawn(["test_other.py", "broken/test_broken.py"])
        a.hello()
        col = a.next()
        check(col and col["t"] == "collected" and len(col["errors"]) == 1
              and "no_such_module_xdock" in col["errors"][0]
              and [i["id"] for i in col["items"]] == ["test_other.py::test_other"],
              "collection errors are reported with the items", col)
        # As pytest-xdist's worker: the error does not stop it; it runs
        # what it is given.
        a.send({"t": "run", "i": [0]})
        a.send({"t": "bye"})
        msgs, ex = a.until("exit")
        res = self.results_by_index(msgs)
        check(res.get(0, {}).get("outcome") == "passed" and ex["status"] != 0,
              "collection error: the other tests still run", msgs)
        check(a.wait(10) == EXIT_OK, "collection error: agent exits 0", a.proc.returncode)

    def t_maxfail(self):
        a = self.spawn(["-x", "test_basic.py::test_fail", "test_basic.py::test_pass"])
        a.hello()
        a.until("collected")
        a.send({"t": "run", "i": [0, 1]})
        msgs, done = a.until("done")
        starts = [m["i"] for m in msgs if m["t"] == "start"]
        check(done is not None and starts == [0], "-x stops after the first failure", msgs)
        _, ex = a.until("exit")
        check(ex is not None and ex["status"] == 1 and a.wait(10) == EXIT_OK,
              "-x: pytest's status 1, agent exits 0", (ex, a.proc.returncode))

    def t_stop(self):
        # -x elsewhere: stop drops what was sent and not begun; the test in
        # hand finishes, nothing after it starts, and done follows.
        a = self.spawn(["test_basic.py::test_pass", "test_basic.py::test_fail", "test_basic.py::test_skip"])
        a.hello()
        a.until("collected")
        # Sent together: the runner takes every command that is already
        # there before it begins a test, so none of the three begins.
        a.send('{"t":"run","i":[0,1,2]}\n{"t":"stop"}')
        msgs, done = a.until("done")
        starts = [m["i"] for m in msgs if m["t"] == "start"]
        check(done is not None and starts == [], "stop drops tests sent and not begun", msgs)
        _, ex = a.until("exit")
        check(ex is not None and a.wait(10) == EXIT_OK, "stop: exit message, agent exits 0",
              (ex, a.proc.returncode))

    def t_xdist_env(self):
        env = {"PYTEST_XDIST_WORKER": "gw3", "PYTEST_XDIST_WORKER_COUNT": "7",
               "PYTEST_XDIST_TESTRUNUID": "run-abc"}
        a = self.spawn(["test_xdist.py"], env=env)
        a.hello()
        col = a.next()
        a.send({"t": "run", "i": list(range(len(col["items"])))})
        a.send({"t": "bye"})
        msgs, _ = a.until("exit")
        res = self.results_by_index(msgs)
        check(res and all(r["outcome"] == "passed" for r in res.values()),
              "worker_id / testrun_uid / workerinput as under xdist",
              [r.get("longrepr") for r in res.values()])
        check(a.wait(10) == EXIT_OK, "xdist env: agent exits 0", a.proc.returncode)

    def crash_run(self, test, agent_opts=(), extra=()):
        a = self.spawn(["-s", *extra, "test_crash.py::test_fine", "test_weird.py::test_noisy",
                        "test_crash.py::" + test], agent_opts=agent_opts)
        a.hello()
        a.until("collected")
        t0 = time.monotonic()
        a.send({"t": "run", "i": [0, 1, 2]})
        a.send({"t": "bye"})
        msgs, ex = a.until("exit", timeout=60)
        elapsed = time.monotonic() - t0
        rc = a.wait(10)
        crash = [m for m in msgs if m["t"] == "crash"]
        return a, msgs, (crash[0] if crash else None), ex, elapsed, rc

    def t_crash_exit(self):
        a, msgs, crash, ex, _, rc = self.crash_run("test_exit3")
        res = self.results_by_index(msgs)
        check(res.get(0, {}).get("outcome") == "passed" and res.get(1, {}).get("outcome") == "passed",
              "tests before the crash report normally (noisy -s output drained)", msgs[:4])
        check(crash is not None and crash["i"] == 2 and crash["status"] == 3
              and crash["signal"] == 0 and "dying \ufffd\ufffd now" in crash["output"],
              "os._exit(3) yields a crash for its index with the output tail", crash)
        # The tail is raw bytes, sent as JSON: each invalid byte arrives as
        # one U+FFFD (3 bytes in UTF-8). 1 MiB went out before the crash, so
        # the tail is full: exactly the documented 8 KiB, and it ends with
        # the last bytes written.
        raw = (len(crash["output"].encode()) - 2 * crash["output"].count("\ufffd")) if crash else None
        check(raw == 8192 and crash["output"].endswith("dying \ufffd\ufffd now\n"),
              "crash output is only a tail: the last 8 KiB", raw)
        check(ex is not None and ex["status"] == 3 and msgs[-1] is ex and rc == 0,
              "exit message follows the crash, agent exits 0", (ex, rc))
        check(a.bad_lines == [], "no stray lines from fd 1 writes with -s", a.bad_lines[:3])

    def t_crash_segv(self):
        a, msgs, crash, ex, _, rc = self.crash_run("test_segv")
        check(crash is not None and crash["i"] == 2 and crash["signal"] == 11
              and crash["status"] == 139 and "Segmentation fault" in crash["output"],
              "SIGSEGV yields a crash with signal 11 and the faulthandler dump", crash)
        check(ex is not None and ex["status"] == 139 and rc == EXIT_OK, "exit after SIGSEGV, agent exits 0",
              (ex, rc))

    def t_timeout(self):
        a, msgs, crash, ex, elapsed, rc = self.crash_run("test_sleep", agent_opts=["--timeout", "2"])
        check(crash is not None and crash["i"] == 2 and crash["reason"] == "timeout after 2 s"
              and crash["signal"] == 9, "--timeout 2 kills a hung test and says so", crash)
        # The test sleeps 30 s: the kill must come before it would end
        # by itself (a bound the test's own length sets, not a window).
        check(elapsed < 25, "timeout acted before the 30 s test ended by itself", elapsed)
        check(crash is not None and "test_sleep" in crash["output"] and "Timeout" in crash["output"],
              "timeout crash output holds the hung test's stack", crash and crash["output"][-600:])
        check(ex is not None and rc == EXIT_OK, "exit after timeout, agent exits 0", (ex, rc))

    def hung_runner(self):
        pidfile = os.path.join(self.tmp, "runner.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        a = self.spawn(["test_crash.py::test_pid_then_sleep", "test_crash.py::test_fine"],
                       env={"XDOCK_SUITE_PIDFILE": pidfile})
        a.hello()
        a.until("collected")
        a.send({"t": "run", "i": [0, 1]})
        a.until("start")
        deadline = time.monotonic() + 20
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(open(pidfile).read()) if os.path.exists(pidfile) else None
        return a, pid

    def t_stdin_eof(self):
        a, pid = self.hung_runner()
        check(pid is not None and pid_alive(pid), "runner pid known and alive", pid)
        a.close_stdin()
        rc = a.wait(30)
        check(rc == EXIT_INTERRUPTED, "stdin EOF: agent exits 2 (interrupted)", rc)
        check(pid is not None and gone_within(pid, 10), "stdin EOF: no runner left", pid)
        a.kill()

    def t_sigterm(self):
        a, pid = self.hung_runner()
        a.proc.send_signal(signal.SIGTERM)
        rc = a.wait(10)
        check(rc == EXIT_INTERRUPTED, "SIGTERM: agent exits 2 (interrupted)", rc)
        check(pid is not None and gone_within(pid, 10), "SIGTERM: no runner left", pid)
        a.kill()

    def t_channel(self):
        # The local channel: hello, collection, a run and the exit over the
        # socket; nothing of the protocol on stdout.
        path = os.path.join(self.tmp, "chan.sock")
        lst = socket.socket(socket.AF_UNIX)
        lst.bind(path)
        lst.listen(1)
        cmd = [*self.args.wrap.split(), self.args.agent, "--channel", path, "--", self.args.python, "-m",
               "pytest", "test_basic.py"]
        a = SockAgent(cmd, lst, env=self.env)
        lst.close()
        check(a.sock is not None, "channel: the agent connects to the socket it is given", a.stderr() if a.sock is None else "")
        if a.sock is None:
            a.kill()
            return
        msg = a.hello()
        check(msg is not None and msg.get("t") == "hello" and msg.get("pid") == a.proc.pid,
              "channel: hello answered over the socket", msg)
        col, msgs, ex = self.run_all(a)
        n = len(col["items"]) if col else 0
        check(n == 8, "channel: collection over the socket", col)
        check(len(self.results_by_index(msgs)) == n and ex is not None and ex["status"] == 1,
              "channel: every result and the exit over the socket", (len(msgs), ex))
        check(a.wait(30) == 0, "channel: agent exits 0", a.proc.returncode)
        check(a.side_stdout() == b"", "channel: nothing on stdout", a.stdout_raw[:200])
        a.sock.close()
        a.kill()

    def t_channel_fallback(self):
        # A channel that cannot be reached: one nochan line on stdout, then
        # the protocol over stdin/stdout as without the option.
        cmd = [*self.args.wrap.split(), self.args.agent, "--channel", os.path.join(self.tmp, "absent", "chan.sock"),
               "--", self.args.python, "-m", "pytest", "test_other.py"]
        a = Agent(cmd, env=self.env)
        first = a.next(30)
        check(first == {"t": "nochan"}, "channel fallback: the first line says nochan", first)
        msg = a.hello()
        check(msg is not None and msg.get("t") == "hello" and msg.get("pid") == a.proc.pid,
              "channel fallback: hello over stdio", msg)
        col, msgs, ex = self.run_all(a)
        n = len(col["items"]) if col else 0
        check(n == 1 and len(self.results_by_index(msgs)) == 1 and ex is not None and ex["status"] == 0,
              "channel fallback: the run goes on over stdio", (n, ex))
        check(a.wait(30) == 0, "channel fallback: agent exits 0", a.proc.returncode)
        check("using the attach stream" in a.stderr(), "channel fallback: stderr says why")
        a.kill()

    def t_container(self):
        img, label, suite = self.args.docker_image, self.args.label, self.args.suite
        name = "%s-%d" % (label.replace("=", "-").replace(".", "-"), os.getpid())
        cmd = ["docker", "run", "--rm", "-i", "--name", name, "--label", "xdock.run=" + label,
               "-e", "PYTHONDONTWRITEBYTECODE=1",
               "-v", os.path.realpath(self.args.agent) + ":/xdock/agent:ro",
               "-v", "%s:%s:ro" % (suite, suite), "-w", suite, img,
               "/xdock/agent", "--", "python3", "-m", "pytest", "test_basic.py", "test_other.py"]
        a = Agent(cmd)
        msg = a.hello()
        check(msg is not None and msg.get("pid") == 1,
              "container: agent is PID 1 and answers hello", (msg, a.stderr() if msg is None else ""))
        if msg is None:
            a.kill()
            return
        col, msgs, ex = self.run_all(a)
        n = len(col["items"]) if col else 0
        check(n == 9, "container: collection", col)
        res = self.results_by_index(msgs)
        check([res[i]["outcome"] for i in sorted(res)] ==
              ["passed", "failed", "error", "skipped", "xfailed", "xpassed", "failed",
               "passed", "passed"], "container: outcomes",
              {i: res[i]["outcome"] for i in res})
        check(ex is not None and ex["status"] == 1, "container: exit message", ex)
        a.close_stdin()
        check(a.wait(30) == 0, "container: agent (and container) exit 0", a.proc.returncode)
        a.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--suite", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--docker-image")
    ap.add_argument("--label", default="t-agent")
    ap.add_argument("--wrap", default="", help="command prefix for the agent, e.g. valgrind")
    ap.add_argument("--only", help="comma-separated check names (t_ prefix omitted)")
    args = ap.parse_args()
    os.chdir(args.suite)
    d = Driver(args)
    names = ["version_mismatch", "main", "output_cap", "collect_error", "maxfail", "stop", "xdist_env",
             "crash_exit", "crash_segv", "timeout", "stdin_eof", "sigterm", "channel", "channel_fallback"]
    if args.docker_image:
        names.append("container")
    if args.only:
        names = args.only.split(",")
    for name in names:
        print("== " + name, flush=True)
        try:
            getattr(d, "t_" + name)()
        except Exception as e:  # a crash of the driver is a failed check
            check(False, name + " raised", repr(e))
        sys.stdout.flush()
    subprocess.run(["rm", "-rf", d.tmp])
    print("agent: %d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
