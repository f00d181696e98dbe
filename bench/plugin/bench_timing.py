"""pytest plugin the harness loads into plain pytest and pytest-xdist runs
(`-p bench_timing`, BENCH_TIMING_OUT=<file>) to take the same figures xdock's
JSON report gives: per-test durations (setup + call + teardown, as xdock's
agent sums them), wall-clock times of the first collection, first and last
test result, and the controller process's own resource usage.

Under xdist it records only in the controller: workers' reports reach the
controller's pytest_runtest_logreport, and a worker's collection reaches
pytest_xdist_node_collection_finished. Workers write nothing.
"""
import json
import os
import resource
import time


class _Timing:
    def __init__(self, config):
        self.config = config
        self.first_collection = None
        self.first_result = None
        self.last_result = None
        self.tests = {}

    def pytest_collection_finish(self, session):
        # Plain pytest collects here; an xdist controller collects nothing
        # itself and learns of collections through the xdist hook below.
        if self.first_collection is None and not _is_xdist_controller(self.config):
            self.first_collection = time.time()

    def pytest_xdist_node_collection_finished(self, node, ids):
        if self.first_collection is None:
            self.first_collection = time.time()

    def pytest_runtest_logreport(self, report):
        now = time.time()
        self.tests[report.nodeid] = self.tests.get(report.nodeid, 0.0) + getattr(report, "duration", 0.0)
        if report.when == "call" or report.failed:
            if self.first_result is None:
                self.first_result = now
            self.last_result = now

    def pytest_unconfigure(self, config):
        out = os.environ.get("BENCH_TIMING_OUT")
        if not out:
            return
        ru = resource.getrusage(resource.RUSAGE_SELF)
        data = {
            "first_collection": self.first_collection,
            "first_result": self.first_result,
            "last_result": self.last_result,
            "controller": {"maxrss_kb": ru.ru_maxrss, "utime": ru.ru_utime, "stime": ru.ru_stime},
            "tests": self.tests,
        }
        with open(out, "w", encoding="utf-8") as f:
            json.dump(data, f)


def _is_xdist_controller(config):
    n = getattr(config.option, "numprocesses", None)
    return bool(n) and getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return
    config.pluginmanager.register(_Timing(config), "bench_timing_recorder")
