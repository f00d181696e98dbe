#!/usr/bin/python3
"""The controller's own cost per test, in CPU time and write system calls
rather than wall time (which a shared machine blurs): feeds
agent/xdock_controller.py's pytest session the command stream xdock sends
it for N passing tests on two workers, PER tests to a write with PAUSE
seconds between writes, and prints the CPU its session loop used
(getrusage between pytest_sessionstart and pytest_sessionfinish, so not
its start), its write and read system calls (/proc/self/io), and the CPU
of its pytest_sessionstart, where it makes the workers' workerinput.

    bench/controller_cpu.py [--tests 2000] [--per 1] [--pause 0.0005]
                            [--agent DIR] [--runs 3]

--per 1 is one test per write, as xdock wrote before it batched the
controller's input; --per 40 is a 20 ms batch at 2,000 tests a second.
--agent is the directory with xdock_controller.py and xdock_plugin.py
(default: this tree's agent/), so two versions can be compared. Needs
Debian's python3-pytest (the image's pytest). See docs/benchmarks.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Loaded into the controller with -p: what it measures about itself.
PROBE = '''
import json, os, resource, pytest
_marks = []

def _mark():
    r = resource.getrusage(resource.RUSAGE_SELF)
    io = {}
    with open("/proc/self/io") as f:
        for line in f:
            k, v = line.split(":")
            io[k] = int(v)
    _marks.append((r.ru_utime + r.ru_stime, io["syscw"], io["syscr"]))

@pytest.hookimpl(hookwrapper=True)
def pytest_sessionstart(session):
    # Around every implementation: the controller makes its nodes and
    # sends their workerinput here, which the workers wait for.
    _mark()
    yield
    _mark()

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    _mark()
    (s0, _, _), (c0, w0, r0), (c1, w1, r1) = _marks
    with open(os.environ["XDOCK_BENCH_PROBE_OUT"], "w") as f:
        json.dump({"start_cpu_s": c0 - s0, "loop_cpu_s": c1 - c0, "writes": w1 - w0, "reads": r1 - r0}, f)
'''


def line(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def stream(ntests, per_file=100):
    """The commands of a run of ntests passing tests on gw0 and gw1, one
    list of bytes per test (the start and end as their own)."""
    ids = ["test_t%03d.py::test_%05d" % (i // per_file, i) for i in range(ntests)]
    info = {"version": sys.version, "version_info": list(sys.version_info), "sysplatform": sys.platform,
            "platform": "linux", "executable": sys.executable, "cwd": os.getcwd()}
    head = b""
    for w in ("gw0", "gw1"):
        head += line({"t": "ev", "w": w, "e": "workerready", "d": {"workerinfo": info}})
    for w in ("gw0", "gw1"):
        head += line({"t": "ev", "w": w, "e": "collectionfinish", "d": {"topdir": os.getcwd(), "ids": ids}})
    tests = []
    for i, nodeid in enumerate(ids):
        w = "gw%d" % (i % 2)
        path, name = nodeid.split("::")
        loc = [path, 4 * (i % per_file), name]
        b = line({"t": "ev", "w": w, "e": "logstart", "d": {"nodeid": nodeid, "location": loc}})
        for when in ("setup", "call", "teardown"):
            b += line({"t": "ev", "w": w, "e": "testreport", "d": {"data": {
                "nodeid": nodeid, "location": loc, "keywords": {name: 1, path: 1, "bench": 1},
                "outcome": "passed", "longrepr": None, "when": when, "user_properties": [],
                "sections": [], "duration": 0.0002, "$report_type": "TestReport", "item_index": i,
                "worker_id": w, "testrun_uid": "bench"}}})
        b += line({"t": "ev", "w": w, "e": "logfinish", "d": {"nodeid": nodeid, "location": loc}})
        tests.append(b)
    tail = b""
    for w in ("gw0", "gw1"):
        tail += line({"t": "ev", "w": w, "e": "workerfinished", "d": {"workeroutput": {"exitstatus": 0}}})
    tail += line({"t": "bye"})
    return head, tests, tail


def drain(fd, keep):
    while True:
        b = os.read(fd, 65536)
        if not b:
            return
        keep.append(b)


def run_once(args, head, tests, tail, tmp):
    probe_out = os.path.join(tmp, "probe.json")
    cmd_r, cmd_w = os.pipe()
    evt_r, evt_w = os.pipe()
    out_r, out_w = os.pipe()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tmp, args.agent]), XDOCK_CMD_FD=str(cmd_r),
               XDOCK_EVT_FD=str(evt_w), XDOCK_ROLE="controller", XDOCK_WORKERS="2", PYTHONUNBUFFERED="1",
               PYTHONDONTWRITEBYTECODE="1", XDOCK_BENCH_PROBE_OUT=probe_out)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "xdock_controller", "-p", "xdock_bench_probe",
                             "-q", "-p", "no:cacheprovider", "--rootdir", tmp],
                            cwd=tmp, env=env, pass_fds=(cmd_r, evt_w), stdout=out_w, stderr=subprocess.DEVNULL)
    for fd in (cmd_r, evt_w, out_w):
        os.close(fd)
    out, evt = [], []
    readers = [threading.Thread(target=drain, args=(fd, keep)) for fd, keep in ((out_r, out), (evt_r, evt))]
    for t in readers:
        t.start()
    os.write(cmd_w, head)
    for i in range(0, len(tests), args.per):
        os.write(cmd_w, b"".join(tests[i:i + args.per]))
        time.sleep(args.pause)
    os.write(cmd_w, tail)
    os.close(cmd_w)
    status = proc.wait()
    for t in readers:
        t.join()
    os.close(out_r)
    os.close(evt_r)
    text = b"".join(out).decode("utf-8", "replace")
    if status != 0 or ("%d passed" % len(tests)) not in text:
        sys.exit("controller_cpu: the controller did not report %d passed (exit %d):\n%s"
                 % (len(tests), status, text[-2000:]))
    with open(probe_out) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=2000)
    ap.add_argument("--per", type=int, default=1, help="tests per write to the controller")
    ap.add_argument("--pause", type=float, default=0.0005, help="seconds between writes")
    ap.add_argument("--agent", default=os.path.join(os.path.dirname(HERE), "agent"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    args.agent = os.path.abspath(args.agent)
    head, tests, tail = stream(args.tests)
    runs = []
    with tempfile.TemporaryDirectory(prefix="xdock-bench-ctl-") as tmp:
        with open(os.path.join(tmp, "xdock_bench_probe.py"), "w") as f:
            f.write(PROBE)
        for _ in range(args.runs):
            runs.append(run_once(args, head, tests, tail, tmp))
    cpu = [r["loop_cpu_s"] for r in runs]
    print("tests %d, %d per write: loop cpu %s s (median %.3f, %.3f ms/test), terminal writes %s, "
          "session start cpu %s ms, load %.1f" % (
              args.tests, args.per, " ".join("%.3f" % c for c in cpu), statistics.median(cpu),
              1000 * statistics.median(cpu) / args.tests, " ".join(str(r["writes"]) for r in runs),
              " ".join("%.0f" % (1000 * r["start_cpu_s"]) for r in runs), os.getloadavg()[0]))


if __name__ == "__main__":
    main()
