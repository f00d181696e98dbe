"""xdock controller plugin: carried inside xdock-agent and loaded with
`-p xdock_controller` in the one controller container of a run. It makes
a pytest session play the part of pytest-xdist's controller (DSession):
it runs pytest_configure_node for every worker and sends the workerinput
they fill to xdock, then fires, for each event the workers send (forwarded
by xdock as "ev" lines on XDOCK_CMD_FD), the hooks xdist's controller
fires: pytest_testnodeready, pytest_collectreport, pytest_runtest_logstart,
pytest_runtest_logreport, pytest_warning_recorded, pytest_testnodedown.
pytest's own terminal summary, junitxml, cache and the user's plugins
(pytest-cov's combine) then run as under xdist. Its terminal output is
what the user sees.

Commands from xdock, one JSON object per line (common/proto.h):
  {"t":"hello",...}                        the agent's, never seen here
  {"t":"ev","w":"gw0","e":NAME,"d":{..}}   a worker's event, as xdist's
  {"t":"rerun","w":"gw0","id":NODEID}      that test runs again: its
                                           failing reports count as reruns
  {"t":"crash","w":"gw0","id":NODEID,"reason":..,"rerun":B}
                                           the worker died in that test
                                           ("" when between tests); with
                                           rerun, xdock runs it again
  {"t":"flaky","id":NODEID,"kind":K,"failed_on":[..]}
                                           that test failed, then passed
                                           on a rerun (K: order-dependent,
                                           flaky on its own, true); before
                                           bye
  {"t":"bye"}                              the run is over
Messages to xdock:
  {"t":"input","w":"gw0","input":{..}}     a worker's workerinput
  {"t":"done"}                             the session loop ended

Standard library, pytest, and xdist when the image has it.
"""

import collections
import importlib
import json
import os
import select
import sys
import time
import warnings

import pytest

import xdock_plugin

_CMD_FD = os.environ.get("XDOCK_CMD_FD")
_EVT_FD = os.environ.get("XDOCK_EVT_FD")
_ACTIVE = (_CMD_FD is not None and _EVT_FD is not None
           and os.environ.get("XDOCK_ROLE") == "controller")


def _int_env(name, default):
    try:
        return int(os.environ.get(name, ""))
    except ValueError:
        return default


_WORKERS = max(1, _int_env("XDOCK_WORKERS", 1))
# xdock's distribution mode under xdist's name ("load" unless told).
_DIST = os.environ.get("XDOCK_DIST", "load")


class _Spec:
    """The part of execnet's XSpec that plugins read."""

    def __init__(self, ident):
        self.id = ident
        self.popen = True
        self.chdir = None
        self.python = None
        self.via = None
        self.env = {}

    def __repr__(self):
        return "<XSpec 'popen//id=%s'>" % self.id


class _RemoteInfo:
    def __init__(self, info):
        self.__dict__.update(info)


class _Gateway:
    """The part of an execnet gateway that plugins read: id, spec and
    _rinfo() (pytest-cov names the workers' platforms with it). The worker
    runs the same image, so until it reports its own facts they are
    ours."""

    def __init__(self, ident):
        self.id = ident
        self.spec = _Spec(ident)
        self._info = xdock_plugin.worker_info()

    def _rinfo(self, update=False):
        info = dict(self._info)
        info.setdefault("platform", sys.platform)
        info["platform"] = info.get("sysplatform", sys.platform)
        info["version_info"] = tuple(info.get("version_info") or sys.version_info)
        return _RemoteInfo(info)


class _NodeManager:
    def __init__(self, config, testrunuid):
        self.config = config
        self.testrunuid = testrunuid
        # Workers share the project through the mount: nothing is rsynced.
        self.roots = []
        self.specs = []


class Node:
    """What xdist's WorkerController is to plugins: gateway, workerinput,
    workerinfo, workeroutput, config, nodemanager."""

    def __init__(self, ident, config, nodemanager):
        self.gateway = _Gateway(ident)
        self.config = config
        self.nodemanager = nodemanager
        self.workerinput = {
            "workerid": ident,
            "workercount": _WORKERS,
            "testrunuid": nodemanager.testrunuid,
            "mainargv": list(sys.argv),
        }
        self.workerinfo = {}
        self.workeroutput = {}
        self.down = False

    def __repr__(self):
        return "<WorkerController %s>" % self.gateway.id

    @property
    def shutting_down(self):
        return self.down

    def shutdown(self):
        # xdock, not this process, tells workers to stop.
        pass


def _rebuild_warning(data):
    """The inverse of xdock_plugin._serialize_warning."""
    message = data.get("message_str", "")
    if data.get("message_module"):
        try:
            cls = getattr(importlib.import_module(data["message_module"]),
                          data["message_class_name"])
            args = data.get("message_args")
            message = cls(*args) if args is not None else cls(message)
        except Exception:
            message = Warning("%s.%s: %s" % (data["message_module"],
                                             data["message_class_name"], message))
    category = None
    if data.get("category_module"):
        try:
            category = getattr(importlib.import_module(data["category_module"]),
                               data["category_class_name"])
        except Exception:
            category = Warning
    kwargs = {"message": message, "category": category}
    for name in warnings.WarningMessage._WARNING_DETAILS:
        if name not in ("message", "category"):
            kwargs[name] = data.get(name)
    return warnings.WarningMessage(**kwargs)


class _Commands:
    """xdock's commands on XDOCK_CMD_FD, read a burst at a time: every
    whole line that is here is decoded with one json.loads. When none is
    left and the next read would wait, idle() runs and says how long to
    wait for more before it runs again (None: until more comes). Lines
    that are not JSON objects are skipped, as the channel's receive()
    does."""

    def __init__(self, fd, idle):
        self.fd = fd
        self.idle = idle
        self.pending = b""
        self.queue = collections.deque()
        self.eof = False

    def next(self):
        """The next command as a dict, None at EOF."""
        while not self.queue:
            if self.eof:
                return None
            wait = 0
            while not select.select([self.fd], [], [], wait)[0]:
                wait = self.idle()
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
                self.pending, last = b"", self.pending
                self._decode([last])
                continue
            lines = (self.pending + chunk).split(b"\n")
            self.pending = lines.pop()
            self._decode(lines)
        return self.queue.popleft()

    def _decode(self, lines):
        lines = [line for line in lines if line.strip()]
        if not lines:
            return
        blob = b"[" + b",".join(lines) + b"]"
        # The hook only undoes bytes; a burst without them skips it.
        hook = xdock_plugin.decode_object if xdock_plugin._BYTES.encode() in blob else None
        try:
            msgs = json.loads(blob, object_hook=hook)
        except ValueError:
            msgs = []
            for line in lines:
                try:
                    msgs.append(json.loads(line, object_hook=hook))
                except ValueError:
                    pass
        self.queue.extend(m for m in msgs if isinstance(m, dict))


class _Burst:
    """Stands for the terminal's stream while events are fed: what pytest
    writes is kept and goes out in one write when no command is waiting
    and _BURST_S passed since the last one (or every _BURST_S on a stream
    that never pauses), not one write per report through the container's
    stream, the engine and xdock. The text and its order are pytest's,
    _BURST_S late at most; flush() waits for the burst's end."""

    _BURST_S = 0.05

    def __init__(self, stream):
        self.stream = stream
        self.parts = []
        self.since = time.monotonic()

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def flush(self):
        pass

    def due(self):
        return self.parts and time.monotonic() - self.since >= self._BURST_S

    def idle(self):
        """Nothing to read: written out when due, else how long to wait
        for more first (None: nothing kept, wait as long as it takes)."""
        if not self.parts:
            return None
        left = self.since + self._BURST_S - time.monotonic()
        if left > 0:
            return left
        self.release()
        return None

    def release(self):
        self.since = time.monotonic()
        if not self.parts:
            return
        parts, self.parts = self.parts, []
        try:
            self.stream.write("".join(parts))
        except UnicodeEncodeError:
            # What TerminalWriter.write does with text the stream cannot
            # encode, part by part.
            for part in parts:
                try:
                    self.stream.write(part)
                except UnicodeEncodeError:
                    self.stream.write(part.encode("unicode-escape").decode("ascii"))
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


try:
    # xdist's own, so the "!!! xdist.dsession.Interrupted: stopping after
    # N failures" line is the one xdist prints.
    from xdist.dsession import Interrupted
except ImportError:
    class Interrupted(KeyboardInterrupt):
        """Ends the session loop the way xdist's controller does after
        --maxfail failures."""


class XdockSession:
    """Stands where xdist's DSession stands (registered as "dsession"),
    but xdock starts, feeds and stops the workers: this side only fires
    the hooks."""

    def __init__(self, config):
        self.config = config
        self.channel = xdock_plugin._Channel(int(_CMD_FD), int(_EVT_FD))
        self.nodes = {}
        self.session = None
        self.maxfail = config.getvalue("maxfail")
        self.countfailures = 0
        self.shouldstop = ""
        self.collect_errors = set()
        self.collected = False
        self.reruns = {}  # worker -> node id whose failures are reruns
        self.summary = None
        self.terminal = config.pluginmanager.getplugin("terminalreporter")
        self.status = {}
        self.notes = set()
        self.flaky = {}  # node id -> (kind, workers of its failed tries)

    # -- start-up: the nodes and their workerinput ----------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        self.session = session
        testrunuid = os.environ.get("PYTEST_XDIST_TESTRUNUID") or "xdock"
        manager = _NodeManager(self.config, testrunuid)
        ids = ["gw%d" % i for i in range(_WORKERS)]
        nodes = [Node(i, self.config, manager) for i in ids]
        manager.specs = [n.gateway.spec for n in nodes]
        hook = self.config.hook
        if hasattr(hook, "pytest_xdist_setupnodes"):
            hook.pytest_xdist_setupnodes(config=self.config, specs=manager.specs)
        for node in nodes:
            self.nodes[node.gateway.id] = node
            if hasattr(hook, "pytest_xdist_newgateway"):
                hook.pytest_xdist_newgateway(gateway=node.gateway)
            if hasattr(hook, "pytest_configure_node"):
                hook.pytest_configure_node(node=node)
            self.channel.send({"t": "input", "w": node.gateway.id, "input": node.workerinput})
        self._status_all("I")

    @pytest.hookimpl
    def pytest_collection(self):
        # The workers collect; this session holds no items (as xdist's).
        return True

    # -- the loop: one command at a time ----------------------------------

    @pytest.hookimpl
    def pytest_runtestloop(self):
        burst = self._burst_begin()
        try:
            self._feed(_Commands(self.channel.cmd_fd, burst.idle if burst else lambda: None), burst)
        finally:
            self._burst_end(burst)
        for node in self.nodes.values():
            if not node.down and node.workerinfo:
                node.down = True
                self.config.hook.pytest_testnodedown(node=node, error="not properly terminated")
        self.channel.send({"t": "done"})
        if self.shouldstop:
            raise Interrupted(self.shouldstop)
        return True

    def _feed(self, commands, burst):
        events = {name[4:]: getattr(self, name) for name in dir(self) if name.startswith("_ev_")}
        nodes = self.nodes
        while True:
            msg = commands.next()
            if msg is None:
                break
            kind = msg.get("t")
            if kind == "bye":
                break
            if kind == "flaky":
                self.flaky[str(msg.get("id"))] = (str(msg.get("kind") or "true"),
                                                  [str(w) for w in msg.get("failed_on") or []])
                continue
            node = nodes.get(msg.get("w"))
            if node is None:
                continue
            if kind == "ev":
                method = events.get(msg.get("e"))
                if method is not None:
                    method(node, msg.get("d") or {})
            elif kind == "rerun":
                self.reruns[node.gateway.id] = msg.get("id")
            elif kind == "crash":
                self._crash(node, msg.get("id") or "", msg.get("reason") or "", bool(msg.get("rerun")))
            if burst is not None and burst.due():
                burst.release()

    def _burst_begin(self):
        """The terminal's stream (and sys.stdout when it is the same, so a
        plugin's print() keeps its place among pytest's lines) becomes a
        _Burst for the loop."""
        tw = getattr(self.terminal, "_tw", None)
        if tw is None or getattr(tw, "_file", None) is None:
            return None
        burst = _Burst(tw._file)
        self._burst_stdout = sys.stdout is tw._file
        tw._file = burst
        if self._burst_stdout:
            sys.stdout = burst
        return burst

    def _burst_end(self, burst):
        if burst is None:
            return
        self.terminal._tw._file = burst.stream
        if self._burst_stdout and sys.stdout is burst:
            sys.stdout = burst.stream
        burst.release()

    def _ev_workerready(self, node, data):
        node.down = False
        node.workerinfo = dict(data.get("workerinfo") or {})
        # pytest formats it with "%s.%s.%s" % version_info[:3].
        node.workerinfo["version_info"] = tuple(node.workerinfo.get("version_info") or ())
        node.workerinfo["id"] = node.gateway.id
        node.workerinfo["spec"] = node.gateway.spec
        node.gateway._info.update(data.get("workerinfo") or {})
        if self.terminal and self.config.option.verbose > 0:
            self.terminal.write_line("[%s] Python %s" % (
                node.gateway.id, str(node.workerinfo.get("version", "")).replace("\n", " -- ")))
        self.config.hook.pytest_testnodeready(node=node)

    def _ev_collectionfinish(self, node, data):
        ids = data.get("ids") or []
        hook = self.config.hook
        if hasattr(hook, "pytest_xdist_node_collection_finished"):
            hook.pytest_xdist_node_collection_finished(node=node, ids=ids)
        self.session.testscollected = len(ids)
        if not self.collected:
            self.collected = True
            self._status_all("[%d]" % len(ids))
            if self.terminal:
                self.terminal.write_line("")

    def _report(self, data):
        rep = self.config.hook.pytest_report_from_serializable(config=self.config, data=data)
        # JSON made lists of the tuples execnet keeps: a skip's
        # (path, line, reason) and a location.
        if isinstance(rep.longrepr, list):
            rep.longrepr = tuple(rep.longrepr)
        if isinstance(getattr(rep, "location", None), list):
            rep.location = tuple(rep.location)
        return rep

    def _ev_collectreport(self, node, data):
        raw = data.get("data")
        # Every worker collects the same tree. xdist keeps one report per
        # error when its longrepr travels as a value (an import error's
        # text, a skip's tuple); a traceback comes back as a new object
        # from each worker, and xdist's check by dict key then reports it
        # once per worker. (Read before rebuilding: that rewrites raw.)
        traceback = isinstance(raw, dict) and isinstance(raw.get("longrepr"), dict)
        rep = self._report(raw)
        if not traceback:
            key = (rep.nodeid, str(rep.longrepr))
            if key in self.collect_errors:
                return
            self.collect_errors.add(key)
        self.config.hook.pytest_collectreport(report=rep)
        self._count(rep)

    def _ev_logstart(self, node, data):
        self.config.hook.pytest_runtest_logstart(nodeid=data.get("nodeid"),
                                                 location=tuple(data.get("location") or ()))

    def _ev_logfinish(self, node, data):
        self.config.hook.pytest_runtest_logfinish(nodeid=data.get("nodeid"),
                                                  location=tuple(data.get("location") or ()))

    def _ev_testreport(self, node, data):
        data = dict(data.get("data") or {})
        index = data.pop("item_index", None)
        rep = self._report(data)
        if index is not None:
            rep.item_index = index
        rep.node = node
        if rep.failed and self.reruns.get(node.gateway.id) == rep.nodeid:
            rep.outcome = "rerun"
        self.config.hook.pytest_runtest_logreport(report=rep)
        self._count(rep)
        if rep.when == "teardown" and self.reruns.get(node.gateway.id) == rep.nodeid:
            del self.reruns[node.gateway.id]

    def _ev_warning_recorded(self, node, data):
        kwargs = {
            "warning_message": _rebuild_warning(data.get("warning_message_data") or {}),
            "when": data.get("when"),
            "nodeid": data.get("nodeid") or "",
            "location": tuple(data["location"]) if data.get("location") else None,
        }
        self.config.hook.pytest_warning_recorded.call_historic(kwargs=kwargs)

    def _ev_workerfinished(self, node, data):
        node.workeroutput = data.get("workeroutput") or {}
        node.down = True
        self.config.hook.pytest_testnodedown(node=node, error=None)

    def _ev_xdock_note(self, node, data):
        # A worker's line for the user (xdock_django.py), once per run.
        text = str(data.get("text") or "")
        if text and text not in self.notes:
            self.notes.add(text)
            if self.terminal:
                self.terminal.write_line(text)

    def _ev_internal_error(self, node, data):
        try:
            raise AssertionError(data.get("formatted_error", ""))
        except AssertionError:
            from _pytest._code import ExceptionInfo

            excinfo = ExceptionInfo.from_current()
            self.config.hook.pytest_internalerror(excrepr=excinfo.getrepr(), excinfo=excinfo)

    def _crash(self, node, nodeid, reason, rerun):
        """The worker died: in a test (nodeid) or between tests. As xdist:
        node down with the error, then a failed report for the test."""
        if not node.down:
            node.down = True
            self.config.hook.pytest_testnodedown(node=node, error=reason or "crashed")
            if self.terminal:
                self.terminal.write_line("[%s] node down: %s" % (node.gateway.id, reason or "crashed"))
        if not nodeid:
            return
        runner = self.config.pluginmanager.getplugin("runner")
        path = nodeid.split("::")[0]
        text = "worker %r crashed while running %r" % (node.gateway.id, nodeid)
        if reason:
            text += "\n" + reason
        rep = runner.TestReport(nodeid, (path, None, path), {}, "rerun" if rerun else "failed",
                                text, "???")
        rep.node = node
        hook = self.config.hook
        if hasattr(hook, "pytest_handlecrashitem"):
            hook.pytest_handlecrashitem(crashitem=nodeid, report=rep, sched=None)
        hook.pytest_runtest_logreport(report=rep)
        self._count(rep)

    def _count(self, rep):
        if rep.failed:
            self.countfailures += 1
            if self.maxfail and self.countfailures >= self.maxfail:
                self.shouldstop = "stopping after %d failures" % self.countfailures

    # -- --junitxml: the flaky tests' kinds ------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_sessionfinish(self, session):
        # Before junitxml's own pytest_sessionfinish writes the file.
        if self.flaky:
            try:
                self._junit_flaky()
            except Exception as e:  # pytest's internals moved: say so
                if self.terminal:
                    self.terminal.write_line("xdock: --junitxml: the flaky tests' kinds are not in it (%s: %s); "
                                             "the JSON report has them" % (type(e).__name__, e))
        yield

    def _junit_flaky(self):
        """Each flaky test's <testcase> (its failed tries' ones too) gets
        <property name="flaky" value=KIND/> and one failed_on property per
        failed try, as xdock's own JUnit writer does. Why this way: it is
        what pytest's record_property writes (a <properties> child of the
        test's <testcase>), which CI tools (Jenkins, GitLab) already show;
        pytest's junitxml still writes the file, so junit_family,
        junit_prefix, escaping and format stay pytest's; and only a run
        with a flaky test (so with --reruns) gets here: any other run's
        file is pytest's alone. The tests' elements are built already
        (junitxml freezes each at its teardown), so the properties go
        into them; one still open takes them through add_property."""
        from xml.etree import ElementTree as ET

        from _pytest import junitxml

        stash = getattr(self.config, "stash", None)
        xml = stash.get(junitxml.xml_key, None) if stash is not None else None
        if xml is None:
            return
        props = {}
        for nodeid, (kind, failed_on) in self.flaky.items():
            names = junitxml.mangle_test_address(nodeid)
            classnames = names[:-1]
            if xml.prefix:
                classnames.insert(0, xml.prefix)
            pairs = [("flaky", kind)] + [("failed_on", w) for w in failed_on]
            props[nodeid] = pairs
            props[(".".join(classnames), junitxml.bin_xml_escape(names[-1]))] = pairs
        for reporter in xml.node_reporters_ordered:
            if "id" in vars(reporter):
                # Still open: pytest adds them when it finalizes.
                for name, value in props.get(getattr(reporter.id, "nodeid", reporter.id), ()):
                    reporter.add_property(name, value)
                continue
            testcase = reporter.to_xml()
            pairs = props.get((testcase.get("classname"), testcase.get("name")))
            if not pairs:
                continue
            node = testcase.find("properties")
            if node is None:
                node = ET.Element("properties")
                testcase.insert(0, node)
            for name, value in pairs:
                node.append(ET.Element("property", name=name, value=junitxml.bin_xml_escape(value)))

    # -- what xdist's terminal reporter adds ----------------------------

    def _status_all(self, text):
        for ident in self.nodes:
            self.status[ident] = text
        if self.terminal and self.config.option.verbose >= 0:
            self.terminal.write_line(" / ".join("%s %s" % kv for kv in self.status.items()))
        elif self.terminal:
            self.terminal.write_line("bringing up nodes...")

    @pytest.hookimpl
    def pytest_report_teststatus(self, report):
        # A failure that xdock runs again (--reruns), as
        # pytest-rerunfailures shows it.
        if report.outcome == "rerun":
            return "rerun", "R", ("RERUN", {"yellow": True})
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if _ACTIVE:
        # As under `pytest -n N`: plugins that decide early whether they
        # are xdist's controller (pytest-cov starts its DistMaster here)
        # read these.
        ns = early_config.known_args_namespace
        if hasattr(ns, "numprocesses"):
            ns.numprocesses = _WORKERS
            ns.dist = _DIST
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_cmdline_main(config):
    if _ACTIVE and hasattr(config.option, "numprocesses"):
        # What xdist itself derives from -n: its own checks (--pdb) and the
        # plugins that read config.option.dist see a distributed run.
        config.option.numprocesses = _WORKERS
        config.option.dist = _DIST
        config.option.tx = ["popen"] * _WORKERS
        # xdist registers its controller in its pytest_configure; ours
        # takes its place under the same name.
        try:
            import xdist.dsession

            xdist.dsession.DSession = XdockSession
        except ImportError:
            pass
    yield


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if not _ACTIVE or config.getvalue("collectonly"):
        # With --collect-only xdist does not distribute either: this
        # session collects and lists the tests itself.
        return
    if config.pluginmanager.hasplugin("xdist"):
        # xdist's own pytest_configure registers DSession, now ours.
        return
    config.pluginmanager.register(XdockSession(config), "dsession")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.showfspath = False
