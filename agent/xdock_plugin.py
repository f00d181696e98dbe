"""xdock runner plugin: carried inside xdock-agent and loaded with
`-p xdock_plugin`. It turns one long-lived pytest process into an xdist-like
worker driven over two pipes: commands in (XDOCK_CMD_FD), events out
(XDOCK_EVT_FD), one JSON object per line as in common/proto.h.

Besides xdock's own messages it sends what xdist's worker sends its
controller (serialized reports, warnings, workeroutput) as "ev" messages;
xdock forwards them to the controller (xdock_controller.py), which fires
pytest's hooks with them.

Without XDOCK_CMD_FD in the environment, or in the controller
(XDOCK_ROLE=controller, which imports this module for its channel), it does
nothing, so pytest behaves exactly as usual. Standard library and pytest
only (pytest 7.2, Python 3.11).
"""

import base64
import faulthandler
import json
import os
import platform
import select
import sys

import pytest

_CMD_FD = os.environ.get("XDOCK_CMD_FD")
_EVT_FD = os.environ.get("XDOCK_EVT_FD")
_ACTIVE = (_CMD_FD is not None and _EVT_FD is not None
           and os.environ.get("XDOCK_ROLE", "worker") == "worker")
# The controller sends this worker its workerinput before pytest configures.
_WAIT_INPUT = os.environ.get("XDOCK_CONTROLLER") == "1"
if _ACTIVE:
    # Out of the tests' way: the fds are not inherited (the agent makes
    # them close-on-exec) and their numbers leave the environment that
    # tests and their subprocesses see. The orchestrator still checks
    # every line as if a test wrote it.
    del os.environ["XDOCK_CMD_FD"], os.environ["XDOCK_EVT_FD"]

# The outcomes the orchestrator understands (see common/proto.h).
_OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
_DEFAULT_CAP = 64 * 1024


def _output_cap():
    try:
        cap = int(os.environ.get("XDOCK_OUTPUT_CAP", ""))
    except ValueError:
        return _DEFAULT_CAP
    return cap if cap > 0 else _DEFAULT_CAP


def _cap_text(text, cap):
    """Returns text cut to at most cap UTF-8 bytes, with the same note the
    agent's proto_json_string appends, so every side reads one format."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    raw = text.encode("utf-8", "replace")
    if len(raw) <= cap:
        return text
    # "ignore" drops a multibyte character cut in half at the end.
    kept = raw[:cap].decode("utf-8", "ignore")
    return kept + " ...[truncated %d bytes]" % (len(raw) - cap)


# receive(block=False) found no whole command.
NOTHING = object()

# JSON has no bytes: what xdist's channel carries as bytes (pytest-cov's
# coverage data in workeroutput) travels as {_BYTES: base64}.
_BYTES = "__xdock_bytes__"


def _encode_other(obj):
    if isinstance(obj, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    # What cannot travel arrives as its repr, as xdist does for warnings.
    return repr(obj)


def decode_object(obj):
    """json.loads object_hook: undoes _encode_other's bytes."""
    if len(obj) == 1 and _BYTES in obj:
        try:
            return base64.b64decode(obj[_BYTES])
        except (ValueError, TypeError):
            return obj
    return obj


def worker_info():
    """What xdist's worker tells its controller about itself."""
    return {
        "version": sys.version,
        "version_info": list(sys.version_info),
        "sysplatform": sys.platform,
        "platform": platform.platform(),
        "executable": sys.executable,
        "cwd": os.getcwd(),
    }


class _Channel:
    """The two protocol pipes. Writes are whole lines, retried until the
    last byte is out; reads split the command stream into lines.

    A line sent with hold=True waits for the next send (or flush()): a
    test's result then leaves with the next test's start in one write, one
    wake-up of the agent and one frame through the engine instead of two.
    Nothing runs between the two sends, so nothing held can be lost to a
    crash; receive() flushes before it blocks."""

    def __init__(self, cmd_fd, evt_fd):
        self.cmd_fd = cmd_fd
        self.evt_fd = evt_fd
        self._pending = b""
        self._eof = False
        self._held = []
        self._early = []
        # A forked or spawned test process must not inherit the protocol:
        # an inherited write end would also keep the agent from seeing EOF.
        os.set_inheritable(cmd_fd, False)
        os.set_inheritable(evt_fd, False)

    def send(self, obj, hold=False):
        # ensure_ascii=False keeps node ids readable; "replace" turns lone
        # surrogates (undecodable bytes smuggled into str) into "?" so the
        # line is always valid UTF-8.
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_encode_other)
        self._held.append((line + "\n").encode("utf-8", "replace"))
        if not hold:
            self.flush()

    def flush(self):
        if not self._held:
            return
        view = memoryview(b"".join(self._held))
        self._held = []
        while view:
            n = os.write(self.evt_fd, view)
            view = view[n:]

    def receive(self, block=True):
        """Returns the next command as a dict, or None at EOF. Lines that
        are not JSON objects are skipped: the agent relays the
        orchestrator's lines unchanged and a bad one must not kill us.
        With block=False, returns NOTHING when no whole command is here."""
        if self._early:
            return self._early.pop(0)
        while True:
            nl = self._pending.find(b"\n")
            if nl >= 0:
                line, self._pending = self._pending[:nl], self._pending[nl + 1 :]
                try:
                    msg = json.loads(line, object_hook=decode_object)
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    return msg
                continue
            if self._eof:
                return None
            if not block and not select.select([self.cmd_fd], [], [], 0)[0]:
                return NOTHING
            if block:
                self.flush()
            chunk = os.read(self.cmd_fd, 65536)
            if not chunk:
                self._eof = True
                continue
            self._pending += chunk

    def wait_for(self, kind):
        """Blocks for the first command of this kind; commands that come
        before it are kept for receive(). None at EOF."""
        while True:
            msg = self.receive()
            if msg is None or msg.get("t") == kind:
                return msg
            self._early.append(msg)


def _group_of(item):
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    if mark.args:
        return str(mark.args[0])
    return str(mark.kwargs.get("name", "default"))


def _file_of(item, rootpath):
    try:
        return os.path.relpath(str(item.path), str(rootpath))
    except (AttributeError, ValueError):
        return item.nodeid.split("::", 1)[0]


def _skip_reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return report.longreprtext


def _session_error_place(report, config):
    """Names where a collection error without a node id happened (a
    conftest hook, a plugin raising while pytest walks the directories):
    "test session", as pytest says, and the last traceback entry that lies
    in the project, so the line always names a file."""
    place = None
    root = str(config.rootpath)
    chain = getattr(report.longrepr, "chain", None) or []
    for reprtraceback, reprcrash, _ in chain:
        for entry in getattr(reprtraceback, "reprentries", None) or []:
            loc = getattr(entry, "reprfileloc", None)
            if loc is None:
                continue
            path = os.path.join(str(config.invocation_params.dir), str(loc.path))
            path = os.path.normpath(path)
            if path.startswith(root + os.sep) and os.sep + "site-packages" not in path \
                    and os.sep + "dist-packages" not in path:
                place = "%s:%s" % (os.path.relpath(path, root), loc.lineno)
        if place is None and reprcrash is not None:
            place = "%s:%s" % (reprcrash.path, reprcrash.lineno)
    return "test session (%s)" % place if place else "test session"


def _serialize_warning(wm):
    """A warnings.WarningMessage as plain data: the message's class by
    module and name (so the controller can rebuild it) and every detail
    pytest's warnings summary prints."""
    message = wm.message
    out = {"message_str": str(message), "message_module": None,
           "message_class_name": None, "message_args": None}
    if isinstance(message, Warning):
        out["message_module"] = type(message).__module__
        out["message_class_name"] = type(message).__name__
        try:
            json.dumps(message.args)
            out["message_args"] = list(message.args)
        except (TypeError, ValueError):
            pass
    category = wm.category
    out["category_module"] = category.__module__ if category else None
    out["category_class_name"] = category.__name__ if category else None
    for name in wm._WARNING_DETAILS:
        if name in ("message", "category"):
            continue
        value = getattr(wm, name, None)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
        out[name] = value
    return out


class XdockWorker:
    """Registered as a plugin when the agent started us; owns the command
    loop and the per-test result messages."""

    def __init__(self, config, channel, err_fd):
        self.config = config
        self.channel = channel
        self.err_fd = err_fd
        self.cap = _output_cap()
        self.collect_errors = []
        self.reports = None
        self.current = None
        self.current_index = -1
        self.info = config.workerinput
        try:
            self.timeout = float(os.environ.get("XDOCK_TIMEOUT", "0"))
        except ValueError:
            self.timeout = 0.0

    def _event(self, name, **data):
        # Held: the events of a test leave with its result in one write.
        self.channel.send({"t": "ev", "e": name, "d": data}, hold=True)

    def note(self, text):
        """One line for the user, printed once per run by the controller
        however many workers send it."""
        self._event("xdock_note", text=text)

    def _serialize(self, report):
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        # Captured output is capped as in result messages; a traceback
        # too long for one protocol line travels as its capped text.
        sections = data.get("sections")
        if isinstance(sections, list):
            data["sections"] = [[title, _cap_text(text, self.cap)] for title, text in sections]
        longrepr = data.get("longrepr")
        if isinstance(longrepr, dict):
            size = len(json.dumps(longrepr, default=_encode_other))
            if size > 16 * self.cap:
                data["longrepr"] = _cap_text(report.longreprtext, 16 * self.cap)
        elif isinstance(longrepr, str):
            data["longrepr"] = _cap_text(longrepr, 16 * self.cap)
        return data

    @pytest.hookimpl
    def pytest_internalerror(self, excrepr):
        # The terminal reporter is silenced; the agent keeps the tail of
        # our stderr for its crash and exit messages.
        try:
            os.write(self.err_fd, ("INTERNALERROR> %s\n" % excrepr).encode("utf-8", "replace"))
        except OSError:
            pass
        try:
            self._event("internal_error", formatted_error=str(excrepr))
            self.channel.flush()
        except OSError:
            pass

    @pytest.hookimpl
    def pytest_sessionstart(self, session):
        self._event("workerready", workerinfo=worker_info())

    @pytest.hookimpl(hookwrapper=True)
    def pytest_sessionfinish(self, exitstatus):
        self.config.workeroutput["exitstatus"] = int(exitstatus)
        yield
        self._event("workerfinished", workeroutput=self.config.workeroutput)
        self.channel.flush()

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid, location):
        self._event("logstart", nodeid=nodeid, location=location)

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid, location):
        self._event("logfinish", nodeid=nodeid, location=location)

    @pytest.hookimpl
    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        self._event("warning_recorded", warning_message_data=_serialize_warning(warning_message),
                    when=when, nodeid=nodeid, location=location)

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if not report.passed:
            # As xdist: only what did not pass goes to the controller.
            self._event("collectreport", data=self._serialize(report))
        if report.failed:
            where = report.nodeid or _session_error_place(report, self.config)
            text = "ERROR collecting %s\n%s" % (where, report.longreprtext)
            self.collect_errors.append(_cap_text(text, self.cap))

    def _send_collected(self, session):
        # Sent from the run loop, not pytest_collection_finish: pytest calls
        # that hook even when collection ends in a usage error (a path that
        # does not exist), and the orchestrator must then see pytest's exit
        # code, not an empty collection.
        rootpath = self.config.rootpath
        items = [
            {"id": item.nodeid, "file": _file_of(item, rootpath), "group": _group_of(item)}
            for item in session.items
        ]
        self._event("collectionfinish", topdir=str(rootpath), ids=[item["id"] for item in items])
        self.channel.send({"t": "collected", "items": items, "errors": self.collect_errors})

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if self.reports is not None and report.nodeid == self.current:
            self.reports.append(report)
        data = self._serialize(report)
        data["item_index"] = self.current_index
        data["worker_id"] = self.info.get("workerid")
        data["testrun_uid"] = self.info.get("testrunuid")
        self._event("testreport", data=data)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        opt = self.config.option
        self._send_collected(session)
        # A collection error does not stop the worker: pytest-xdist's
        # workers run what they are given, whatever
        # --continue-on-collection-errors says.
        if opt.collectonly:
            self.channel.send({"t": "done"})
            return True
        pending = []
        ending = False  # bye, stop or end of input: no more work will come
        while True:
            # Take every command that is already here before running the
            # next test, so a stop (-x elsewhere) drops work not yet begun;
            # wait for one only when nothing can run.
            if ending and not pending:
                break
            can_run = len(pending) >= 2 or ending
            msg = self.channel.receive(block=not can_run)
            if msg is not NOTHING:
                kind = None if msg is None else msg.get("t")
                if kind == "run":
                    indexes = msg.get("i")
                    if isinstance(indexes, list):
                        pending.extend(i for i in indexes if isinstance(i, int))
                elif kind == "stop":
                    # The orchestrator reports the dropped tests as not run.
                    pending.clear()
                    ending = True
                elif kind == "bye" or msg is None:
                    ending = True
                continue
            # As in xdist's worker: keep one item in hand so nextitem is the
            # item that really runs next and module/class fixtures tear down
            # exactly when the next item leaves their scope.
            if len(pending) >= 2 or ending:
                if not self._run_one(session, pending):
                    break
        self.channel.send({"t": "done"})
        return True

    def _run_one(self, session, pending):
        """Runs pending[0]; returns False when the session must stop
        (maxfail, -x, or a plugin's shouldstop)."""
        index = pending.pop(0)
        items = session.items
        self.channel.send({"t": "start", "i": index})
        if not 0 <= index < len(items):
            self.channel.send({
                "t": "result", "i": index, "outcome": "error", "duration": 0.0,
                "when": "setup",
                "longrepr": "xdock: index %d out of range (%d items)" % (index, len(items)),
                "stdout": "", "stderr": "",
            })
            return True
        item = items[index]
        nextitem = None
        if pending and 0 <= pending[0] < len(items):
            nextitem = items[pending[0]]
        self.reports = []
        self.current = item.nodeid
        self.current_index = index
        if self.timeout > 0:
            # Fires just before the agent's kill, so the crash output holds
            # the stack of the hung test.
            faulthandler.dump_traceback_later(self.timeout, exit=False, file=self.err_fd)
        try:
            # The hook, not runtestprotocol() directly: plugins that wrap
            # the protocol (warnings, logging, faulthandler, unraisable
            # exceptions) see the item exactly as under xdist.
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        finally:
            if self.timeout > 0:
                faulthandler.cancel_dump_traceback_later()
            reports, self.reports, self.current = self.reports, None, None
            self.current_index = -1
        self.channel.send(self._result(index, reports), hold=True)
        return not (session.shouldfail or session.shouldstop)

    def _category(self, report):
        res = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        category = res[0] if res else ""
        if category in _OUTCOMES:
            return category
        if category == "" and report.passed:
            return "passed"
        # A plugin with its own categories: fall back to pytest's facts.
        if report.failed:
            return "failed" if report.when == "call" else "error"
        if report.skipped:
            return "xfailed" if hasattr(report, "wasxfail") else "skipped"
        return "passed"

    def _result(self, index, reports):
        outcome, when, longrepr = "passed", "call", ""
        for rep in reports:
            category = self._category(rep)
            if category == "passed":
                continue
            outcome, when = category, rep.when
            if category in ("skipped",):
                longrepr = _skip_reason(rep)
            elif category in ("xfailed", "xpassed"):
                longrepr = getattr(rep, "wasxfail", "") or _skip_reason(rep)
            else:
                longrepr = rep.longreprtext
            break
        if not reports:
            outcome, when, longrepr = "error", "setup", "xdock: no report for this test"
        last = reports[-1] if reports else None
        return {
            "t": "result",
            "i": index,
            "outcome": outcome,
            "duration": sum(getattr(r, "duration", 0.0) for r in reports),
            "when": when,
            "longrepr": _cap_text(longrepr, self.cap),
            # The last report carries the sections of every earlier phase.
            "stdout": _cap_text(last.capstdout if last else "", self.cap),
            "stderr": _cap_text(last.capstderr if last else "", self.cap),
        }


# Taken at import, before pytest's fd capture replaces fd 2: faulthandler
# and internal errors must reach the pipe the agent drains, not a capture
# file of the running test.
_ERR_FD = os.dup(2) if _ACTIVE else -1
if _ERR_FD >= 0:
    os.set_inheritable(_ERR_FD, False)


@pytest.hookimpl(hookwrapper=True)
def pytest_cmdline_main(config):
    if _ACTIVE:
        # What xdist's remote.setup_config does to a worker's options: an
        # `-n`/`--dist` that reached us (from addopts, PYTEST_ADDOPTS) must
        # never start xdist's controller inside a worker. A wrapper runs
        # before xdist's own tryfirst pytest_cmdline_main reads them; xdist
        # stays loaded, so plugins that implement its hooks still register.
        opt = config.option
        opt.looponfail = False
        opt.usepdb = False
        opt.dist = "no"
        opt.distload = False
        opt.numprocesses = None
        opt.maxprocesses = None
        _worker_basetemp(config)
    yield


def _worker_basetemp(config):
    """xdist's controller gives each worker `<basetemp>/popen-gwN` (its
    own --basetemp, or pytest's numbered directory): tmp_path is
    `.../popen-gw0/test_x0` there, and two workers given one --basetemp do
    not remove each other's directory when they start."""
    name = "popen-" + os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    given = config.option.basetemp
    if given:
        # The controller makes the directory under xdist; here nobody has.
        given = os.path.abspath(given)
        try:
            os.makedirs(given, exist_ok=True)
        except OSError:
            return  # pytest says why when it makes its own
        config.option.basetemp = os.path.join(given, name)
        return
    try:
        from _pytest.tmpdir import TempPathFactory

        base = TempPathFactory.from_config(config, _ispytest=True).getbasetemp()
    except Exception:
        return  # pytest's own default then
    config.option.basetemp = str(base / name)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if not _ACTIVE:
        return
    # Exactly what xdist gives its workers, so `worker_id`, `testrun_uid`
    # and pytest-django's database suffix work unchanged, and pytest's own
    # plugins act as in an xdist worker (no lastfailed, no junitxml, no
    # stepwise writes: only the controller writes those).
    try:
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    except ValueError:
        count = 1
    config.workerinput = {
        "workerid": os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
        "workercount": count,
        "testrunuid": os.environ.get("PYTEST_XDIST_TESTRUNUID", ""),
        "mainargv": list(sys.argv),
    }
    config.workeroutput = {}
    channel = _Channel(int(_CMD_FD), int(_EVT_FD))
    if _WAIT_INPUT:
        # What the controller's pytest_configure_node hooks put into
        # workerinput (pytest-cov's host and topdir, a project's own keys)
        # must be there before any other plugin configures, as in xdist.
        msg = channel.wait_for("input")
        given = msg.get("input") if msg else None
        if isinstance(given, dict):
            merged = dict(config.workerinput)
            merged.update(given)
            merged["workerid"] = config.workerinput["workerid"]
            config.workerinput = merged
    config.pluginmanager.register(XdockWorker(config, channel, _ERR_FD), "xdock_worker")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    if not _ACTIVE:
        return
    worker = session.config.pluginmanager.get_plugin("xdock_worker")
    if worker is not None:
        _django_support(session.config, worker)
    # Nobody reads the progress lines and failure summaries (they arrive as
    # messages); writing them only costs time and pushes useful lines (a
    # faulthandler dump, an INTERNALERROR) out of the agent's output tail.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        try:
            from _pytest.config import create_terminal_writer

            devnull = open(os.devnull, "w", encoding="utf-8")
            reporter._tw = create_terminal_writer(session.config, devnull)
        except Exception:
            pass


def _django_support(config, worker):
    """pytest-django uses the worker's own database (xdock_django.py).
    Before collection, which is when pytest looks fixtures up; never the
    reason a session fails: pytest-django's own setup then runs."""
    try:
        import xdock_django
    except ImportError:
        return
    try:
        xdock_django.setup(config, worker.note)
    except Exception as exc:
        worker.note("xdock: pytest-django support off: %s: %s" % (type(exc).__name__, exc))
