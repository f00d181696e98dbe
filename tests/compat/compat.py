#!/usr/bin/env python3
"""The compatibility suite: small projects, each run under the host's
pytest-xdist (`pytest -n 2`) and under `xdock run -n 2 --db none`, with the
same pytest arguments, in two copies of the project generated into a temp
dir. What pytest-xdist prints and writes is the reference; each case names
what must match: exit code, outcomes by node id, the `-r`/`--durations`/
`--co`/warnings sections, the JUnit XML (times and host names
normalised), the lastfailed cache, the coverage total, pytest's summary
counts.

Run: tests/compat/compat.py [CASE...]   (ctest -L compat runs them all)
     tests/compat/compat.py --table     the docs/usage.md tables it checks
     tests/compat/compat.py --check-options   every option of `pytest --help`
                                        (host and test image) has a row
Environment: XDOCK_BIN, XDOCK_AGENT (as the integration tests), XDOCK_SRC.
Needs a python3 with pytest, pytest-xdist and pytest-cov (Debian's).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET

SRC = os.environ.get("XDOCK_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XDOCK = os.path.abspath(os.environ.get("XDOCK_BIN") or os.path.join(SRC, "build", "xdock"))
if os.environ.get("XDOCK_AGENT"):
    os.environ["XDOCK_AGENT"] = os.path.abspath(os.environ["XDOCK_AGENT"])
HOST_PY = os.environ.get("XDOCK_HOST_PYTHON", "/usr/bin/python3")
# The test image (default: xdock's, which has pytest-xdist and pytest-cov).
IMAGE = ["--image", os.environ["XDOCK_COMPAT_IMAGE"]] if os.environ.get("XDOCK_COMPAT_IMAGE") else []

# -- the projects ---------------------------------------------------------

BASIC = {
    "tests/__init__.py": "",
    "tests/test_basic.py": """
        import pytest

        def test_pass():
            print("out of test_pass")

        def test_fail():
            assert 1 + 1 == 3

        @pytest.mark.skip(reason="not today")
        def test_skip():
            pass

        @pytest.mark.xfail(reason="known bug")
        def test_xfail():
            assert 0

        @pytest.mark.xfail(reason="fixed already")
        def test_xpass():
            pass

        @pytest.fixture
        def broken():
            raise RuntimeError("fixture broke")

        def test_error(broken):
            pass

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_param(n):
            assert n < 3
    """,
}

COV = {
    "pkg/__init__.py": "",
    "pkg/calc.py": """
        def add(a, b):
            return a + b

        def sub(a, b):
            return a - b

        def never(a):
            if a:
                return 1
            return 2
    """,
    "tests/test_calc.py": """
        from pkg.calc import add, sub

        def test_add():
            assert add(1, 2) == 3

        def test_sub():
            assert sub(3, 2) == 1

        def test_add_more():
            assert add(2, 2) == 4
    """,
}

# A project whose own plugin implements xdist's controller hooks, as a
# large ORM's test plugin does (a per-worker identity through workerinput).
XDIST_HOOKS = {
    "conftest.py": """
        import os

        def pytest_configure_node(node):
            node.workerinput["follower_ident"] = "test_%s" % node.gateway.id

        def pytest_testnodedown(node, error):
            out = getattr(node, "workeroutput", {})
            if "seen" in out:
                path = os.path.join(str(node.config.rootpath), "seen-" + node.gateway.id)
                with open(path, "w") as f:
                    f.write(out["seen"])

        def pytest_configure(config):
            if hasattr(config, "workerinput"):
                config.follower = config.workerinput["follower_ident"]

        def pytest_sessionfinish(session):
            if hasattr(session.config, "workerinput"):
                session.config.workeroutput["seen"] = session.config.follower
    """,
    "test_follower.py": """
        def test_one(request):
            assert request.config.follower.startswith("test_gw")

        def test_two(request):
            assert request.config.follower == "test_" + request.config.workerinput["workerid"]
    """,
}

CACHE_READER = {
    "conftest.py": """
        import pytest

        @pytest.fixture
        def runs(request):
            n = request.config.cache.get("compat/runs", 0)
            request.config.cache.set("compat/runs", n + 1)
            return n
    """,
    "test_cache.py": """
        def test_reads_cache(runs):
            assert runs >= 0
    """,
}

MODULE_SKIP = {
    "test_skipped_module.py": """
        import pytest
        pytest.skip("no backend here", allow_module_level=True)

        def test_never():
            pass
    """,
    "test_fine.py": """
        def test_fine():
            pass
    """,
}

ADDOPTS_N = {
    "pytest.ini": """
        [pytest]
        addopts = -n 2
    """,
    "test_addopts.py": """
        def test_a():
            pass

        def test_b():
            assert 0
    """,
}

JUNIT = {
    "pytest.ini": """
        [pytest]
        junit_family = xunit1
        junit_suite_name = compat_suite
    """,
    "test_junit.py": """
        import pytest

        def test_props(record_property):
            record_property("example_key", 1)

        def test_suite_prop(record_testsuite_property):
            record_testsuite_property("ARCH", "PPC")

        def test_fails():
            assert "a" == "b"

        @pytest.mark.skip(reason="skipped in xml")
        def test_skipped():
            pass
    """,
}

WARNINGS = {
    "test_warn.py": """
        import warnings

        def test_warns():
            warnings.warn(UserWarning("careful now"))

        def test_deprecated():
            warnings.warn(DeprecationWarning("old api"))

        def test_quiet():
            pass
    """,
}

COLLECT_ERROR = {
    "test_ok.py": """
        def test_ok():
            pass
    """,
    "test_broken.py": """
        import no_such_module_xyz
    """,
}

STDIO = {
    "conftest.py": """
        import sys

        def pytest_configure(config):
            if not hasattr(config, "workerinput"):
                sys.stderr.write("err-configure-controller\\n")
                sys.stdout.write("out-configure-controller\\n")

        def pytest_sessionfinish(session):
            if not hasattr(session.config, "workerinput"):
                sys.stderr.write("err-finish-controller\\n")
    """,
    "test_a.py": """
        def test_a():
            pass
    """,
}

# Flags that change what runs or how it ends: each step's flags leave a
# mark on the outcomes, so a flag xdock dropped shows up as a difference.
PASSTHRU = {
    "pytest.ini": """
        [pytest]
        markers =
            slow: a slow one
            compatmark: the compat suite's own marker
    """,
    "conftest.py": """
        import pytest

        @pytest.fixture
        def proj_fix():
            return 1
    """,
    "myplug.py": """
        import pytest

        @pytest.fixture
        def plug_fix():
            return 2
    """,
    "test_flags.py": """
        import logging
        import warnings
        import pytest

        @pytest.mark.slow
        def test_slow():
            pass

        def test_fast():
            print("out of test_fast")

        @pytest.mark.xfail(reason="known")
        def test_xfail_passes():
            pass

        @pytest.mark.xfail(reason="known")
        def test_xfail_fails():
            assert 0

        def test_warns():
            warnings.warn(UserWarning("careful"))

        def test_conftest_fixture(proj_fix):
            assert proj_fix == 1

        def test_plugin_fixture(request):
            assert request.getfixturevalue("plug_fix") == 2

        def test_logs_and_fails():
            logging.getLogger("compat").warning("a warning logged")
            logging.getLogger("compat").info("an info logged")
            print("printed before failing")
            x = [1, 2]
            assert x == [1, 3]

        @pytest.mark.unregistered_mark
        def test_unregistered():
            pass

        def test_tmp(tmp_path):
            assert tmp_path.parent.name.startswith("popen-gw")
    """,
    "sub/conftest.py": """
        import pytest

        @pytest.fixture
        def sub_fix():
            return 3
    """,
    "sub/test_sub.py": """
        def test_in_sub(sub_fix):
            assert sub_fix == 3

        def test_sub_fails():
            assert 0
    """,
    "tpkg/__init__.py": "",
    "tpkg/test_inpkg.py": """
        def test_in_package():
            pass
    """,
    "venv/bin/activate": "",
    "venv/test_in_venv.py": """
        def test_in_venv():
            pass
    """,
}

DOCTESTS = {
    "mod.py": '''
        def double(x):
            """
            >>> double(2)
            4
            >>> double(3)
            7
            >>> double(4)
            8
            """
            return 2 * x
    ''',
    "broken_import.py": """
        import no_such_module_for_doctest
    """,
    "notes.txt": """
        >>> 1 + 1
        2
    """,
    "extra.rst": """
        >>> 2 + 2
        5
    """,
    "test_plain.py": """
        def test_plain():
            pass
    """,
}

STRICT_CONFIG = {
    "pytest.ini": """
        [pytest]
        no_such_ini_key = 1
    """,
    "test_s.py": """
        def test_s():
            pass
    """,
}

STEPWISE = {
    "test_steps.py": """
        def test_1():
            pass

        def test_2():
            assert 0

        def test_3():
            assert 0

        def test_4():
            pass
    """,
}

# Relative -c, --rootdir and --confcutdir, given from outside the project
# and from a subdirectory of it: pytest takes them from where it runs.
PATHS = {
    "cfg/custom.ini": """
        [pytest]
        python_files = check_*.py test_*.py
    """,
    "tests/conftest.py": """
        import pytest

        @pytest.fixture
        def top_fix():
            return 1
    """,
    "tests/check_only.py": """
        def test_found_by_custom_ini():
            pass
    """,
    "tests/sub/test_paths.py": """
        def test_uses_top(top_fix):
            assert top_fix == 1

        def test_plain():
            pass
    """,
}

# What pytest answers without a test session.
INFO = {
    "pytest.ini": """
        [pytest]
        markers =
            compatmark: the compat suite's own marker
    """,
    "conftest.py": '''
        import pytest

        @pytest.fixture
        def proj_fix():
            """The compat suite's own fixture."""
            return 1
    ''',
    "test_info.py": """
        def test_info(proj_fix):
            pass
    """,
}

# -- what is compared ------------------------------------------------------


def _section(out, title):
    """The lines of pytest's `==== title ====` section, sorted (workers
    finish in any order), without the rule itself."""
    lines = out.splitlines()
    got = []
    inside = False
    for line in lines:
        if re.match(r"^=+ .* =+$", line) or re.match(r"^-+ .* -+$", line):
            inside = title in line
            continue
        if inside:
            got.append(line)
    return sorted(l for l in got if l.strip())


def _summary(out):
    """pytest's last line without the time: '1 failed, 2 passed'."""
    for line in reversed(out.splitlines()):
        m = re.match(r"^=+ (.*) in [0-9.]+s(?: \([0-9:]+\))? =+$", line)
        if m:
            return m.group(1)
    return None


def _outcomes(out):
    """node id -> outcome, from the `-rA` short summary."""
    got = {}
    for line in _section(out, "short test summary info"):
        m = re.match(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)", line)
        if m:
            got[m.group(2)] = m.group(1)
    return got


def _durations(out):
    """(phase, node id) of the slowest-durations table: its times differ."""
    got = []
    for line in out.splitlines():
        m = re.match(r"^[0-9.]+s (setup|call|teardown) +(\S+)", line)
        if m:
            got.append((m.group(1), m.group(2)))
    return sorted(got)


def _junit(path):
    """The XML with times, timestamps and host names gone, test cases in
    node id order."""
    root = ET.parse(path).getroot()
    for el in root.iter():
        for attr in ("time", "timestamp", "hostname"):
            el.attrib.pop(attr, None)
    for suite in root.iter("testsuite"):
        cases = [c for c in suite if c.tag == "testcase"]
        for c in cases:
            suite.remove(c)
            for sub in c:
                # Tracebacks name the worker's line; messages stay.
                sub.text = None
        for c in sorted(cases, key=lambda c: (c.get("classname", ""), c.get("name", ""))):
            suite.append(c)
    return ET.tostring(root, encoding="unicode")


def _lastfailed(project):
    path = os.path.join(project, ".pytest_cache", "v", "cache", "lastfailed")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _cov_total(out):
    for line in out.splitlines():
        if line.startswith("TOTAL"):
            return line.split()
    return None


def _collect_listing(out):
    return [l for l in out.splitlines() if "::" in l or l.startswith("no tests")]


COMPARE = {
    "exit": lambda r: r["rc"],
    "summary": lambda r: _summary(r["out"]),
    "outcomes": lambda r: _outcomes(r["out"]),
    "short_summary": lambda r: _section(r["out"], "short test summary info"),
    "durations": lambda r: _durations(r["out"]),
    "warnings": lambda r: _section(r["out"], "warnings summary"),
    "collect": lambda r: _collect_listing(r["out"]),
    "junit": lambda r: _junit(os.path.join(r["dir"], "junit.xml")),
    "lastfailed": lambda r: _lastfailed(r["dir"]),
    "cov_total": lambda r: _cov_total(r["out"]),
    "errors": lambda r: [l for l in r["out"].splitlines() if "ERROR collecting" in l],
    "no_header": lambda r: [l for l in r["out"].splitlines() if l.startswith(("platform ", "rootdir:", "plugins:"))],
    "nodes": lambda r: [l for l in r["out"].splitlines() if l.startswith("gw0 ")],
    "interrupted": lambda r: [l for l in r["out"].splitlines() if l.startswith("!!!")],
    "stdio": lambda r: {name: sorted(l for l in r[name].splitlines() if l.startswith(("out-", "err-")))
                        for name in ("out", "err")},
    "files": lambda r: sorted(f for f in os.listdir(r["dir"]) if f.startswith("seen-")),
    "sections": lambda r: sorted(set(re.sub(r" [a-z_0-9]+ -+$", "", l)
                                     for l in r["out"].splitlines() if re.match(r"^-+ Captured ", l))),
    "verbose": lambda r: sorted(re.findall(r"^\[gw\d+\] \[ *\d+%\] (\w+) (\S+)", r["out"], re.M)),
    "project_info": lambda r: [l for l in r["out"].splitlines()
                               if "compatmark" in l or l.startswith(("proj_fix", "pytest ", "cachedir:"))
                               or "fixtures used by" in l or "The compat suite" in l],
    # Outside the project pytest prints node ids from where it runs, xdock
    # from the rootdir (a documented difference): file::test and outcome.
    "outcomes_by_file": lambda r: sorted((k.rsplit("/", 1)[-1], v) for k, v in _outcomes(r["out"]).items()),
    "usage_error": lambda r: [l for l in r["err"].splitlines() if l.startswith(("ERROR:", "__main__.py: error"))],
}

# -- the cases: (flag or row, project, steps, what must match) -------------
# A step is (host args, xdock args); None for xdock args: the same as the
# host's. Host runs get `-n 2` unless the project's addopts has it.


class Case:
    def __init__(self, name, row, files, steps, compare, xdock_does="same as pytest-xdist", env=None, cwd="."):
        self.name, self.row, self.files, self.steps = name, row, files, steps
        self.compare, self.xdock_does = compare, xdock_does
        self.env = env or {}
        self.cwd = cwd  # where both run, relative to the project


N2 = ["-n", "2"]
CASES = [
    Case("report_chars", "`-r` chars (`-rA`: every outcome's short summary line)", BASIC,
         [(N2 + ["-rA"], None)],
         ["exit", "summary", "outcomes", "short_summary"]),
    Case("durations", "`--durations=N`, `--durations-min`", BASIC,
         [(N2 + ["--durations=0", "--durations-min=0"], None)], ["exit", "summary", "durations"]),
    Case("collect_only", "`--co`, `--collect-only -q`", BASIC,
         [(N2 + ["--co", "-q"], None)], ["exit", "collect"]),
    Case("tb_styles", "`--tb` styles, `-l`, `--color`", BASIC,
         [(N2 + ["--tb=line", "-l", "--color=no", "-rA"], None)], ["exit", "summary", "outcomes"]),
    Case("no_header_summary", "`--no-header`, `--no-summary`", BASIC,
         [(N2 + ["--no-header", "--no-summary"], None)], ["exit", "summary", "no_header"]),
    Case("warnings", "warnings summary", WARNINGS,
         [(N2, None)], ["exit", "summary", "warnings"]),
    Case("junitxml", "`--junitxml` with `record_property`, `record_testsuite_property`, `junit_family`, "
         "`junit_suite_name`", JUNIT,
         [(N2 + ["--junitxml=junit.xml"], None)], ["exit", "summary", "junit"]),
    Case("cache", "`--lf`, `--ff`, `--nf`, `--lfnf`, `--cache-clear`, `.pytest_cache` written by the "
         "controller only", BASIC,
         [(N2 + ["-rA"], None), (N2 + ["--lf", "-rA"], None), (N2 + ["--ff", "--nf", "-rA"], None),
          (N2 + ["--cache-clear", "--lf", "--lfnf=none", "-rA"], None)],
         ["exit", "summary", "outcomes", "lastfailed"]),
    Case("config_cache", "a conftest that reads `config.cache` in the workers", CACHE_READER,
         [(N2, None)], ["exit", "summary"]),
    Case("coverage", "`--cov`, `--cov-report=term` (pytest-cov's combined report)", COV,
         [(N2 + ["--cov=pkg", "--cov-report=term"], None)], ["exit", "summary", "cov_total"]),
    Case("xdist_hooks", "a project's own `pytest_configure_node` / `pytest_testnodedown` (workerinput, "
         "workeroutput)", XDIST_HOOKS,
         [(N2, None)], ["exit", "summary", "files"]),
    Case("module_skip", "a module skipped at import (`allow_module_level=True`)", MODULE_SKIP,
         [(N2 + ["-rs"], None)], ["exit", "summary", "short_summary"]),
    Case("addopts_n", "`addopts = -n 2` in pytest.ini (never starts xdist inside a worker)", ADDOPTS_N,
         [([], ["-n", "2"])], ["exit", "summary"]),
    Case("collect_error", "a collection error: reported, the other tests still run, exit 1 (xdist's rule, "
         "not plain pytest's \"Interrupted\"); reported once when its report is text (an import error), once "
         "per worker when it is a traceback (case `selection`'s `-W error`), as xdist's", COLLECT_ERROR,
         [(N2 + ["-rA"], None), (N2 + ["--continue-on-collection-errors", "-rA"], None)],
         ["exit", "summary", "errors", "outcomes"]),
    Case("auto_env", "`-n auto` with `PYTEST_XDIST_AUTO_NUM_WORKERS` (xdist's own "
         "`pytest_xdist_auto_num_workers` reads it)", BASIC,
         [(["-n", "auto"], None), (["-n", "auto", "--maxprocesses=2"], None)], ["exit", "summary", "nodes"],
         env={"PYTEST_XDIST_AUTO_NUM_WORKERS": "3"}),
    Case("stdio", "the controller's stdout and stderr (a conftest writing to both)", STDIO,
         [(N2, None)], ["exit", "summary", "stdio"]),
    Case("collect_error_x", "a collection error with `-x` / `--maxfail`: nothing runs, exit 2", COLLECT_ERROR,
         [(N2 + ["-x"], None), (N2 + ["--maxfail=2"], None)], ["exit", "summary", "errors", "interrupted"]),
    Case("selection", "`-k`, `-m`, `--deselect`, `--ignore`, `--ignore-glob`, `--runxfail`, `-o`, `-W`, "
         "`--strict-markers`, `--noconftest`, `--confcutdir`, `-p`, `--pyargs`, `--keep-duplicates`, "
         "`--collect-in-virtualenv`, `--import-mode`, `--basetemp` (each worker in `popen-gwN` below it)",
         PASSTHRU,
         [(N2 + ["-rA", "-k", "not slow", "--deselect", "test_flags.py::test_fast", "--ignore=sub",
                 "--runxfail", "-o", "xfail_strict=true", "-W", "error::UserWarning", "--basetemp=bt"], None),
          (N2 + ["-rA", "-m", "not slow", "--strict-markers", "--ignore-glob=*sub*", "-p", "myplug",
                 "--override-ini=xfail_strict=true", "--pythonwarnings=error::UserWarning", "--strict"], None),
          (N2 + ["-rA", "--noconftest", "--confcutdir=sub", "--import-mode=importlib", "--pyargs", "tpkg",
                 "--keep-duplicates", "tpkg", "--collect-in-virtualenv", "venv", "sub"], None)],
         ["exit", "summary", "outcomes"]),
    Case("output_flags", "`--assert=plain`, `--show-capture`, `--full-trace`, `--no-showlocals`, "
         "`--code-highlight`, `--log-level`, `--log-format`, `--log-date-format`, `--log-cli-*`, "
         "`--log-file*`, `--log-auto-indent`, `--disable-warnings`, `-s`/`--capture`, `--setup-show`, "
         "`--trace`, `--pdbcls`, `--debug`, `--trace-config`, `--pastebin`", PASSTHRU,
         [(N2 + ["-rA", "--assert=plain", "--show-capture=stdout", "--full-trace", "--no-showlocals",
                 "--code-highlight=no", "-p", "myplug", "--capture=sys", "--debug=dbg.log", "--trace-config",
                 "--pastebin=failed"], None),
          (N2 + ["-rA", "--log-level=INFO", "--log-format=%(levelname)s %(message)s", "--log-date-format=%H",
                 "--log-cli-level=ERROR", "--log-cli-format=%(message)s", "--log-cli-date-format=%H",
                 "--log-file=log.txt", "--log-file-level=INFO", "--log-file-format=%(message)s",
                 "--log-file-date-format=%H", "--log-auto-indent=on", "-p", "myplug", "--disable-warnings", "-s",
                 "--setup-show", "--trace", "--pdbcls=pdb:Pdb"], None)],
         ["exit", "summary", "outcomes", "short_summary", "sections", "warnings"]),
    Case("verbosity", "`-v`, `-vv`, `--verbosity=N`, `-q`", BASIC,
         [(N2 + ["-vv"], None), (N2 + ["--verbosity=2", "-q"], None)],
         ["exit", "summary", "verbose"]),
    Case("doctest", "`--doctest-modules`, `--doctest-glob`, `--doctest-report`, "
         "`--doctest-continue-on-failure`, `--doctest-ignore-import-errors`", DOCTESTS,
         [(N2 + ["-rA", "--doctest-modules"], None),
          (N2 + ["-rA", "--doctest-modules", "--doctest-continue-on-failure", "--doctest-report=udiff",
                 "--doctest-ignore-import-errors", "--doctest-glob=*.rst"], None)],
         ["exit", "summary", "outcomes", "errors"]),
    Case("strict_config", "`--strict-config` (an unknown ini key: xdist's controller refuses it)",
         STRICT_CONFIG, [(N2 + ["--strict-config"], None)], ["exit", "summary", "usage_error"]),
    Case("stepwise", "`--sw`/`--stepwise` on a fresh cache", STEPWISE,
         [(N2 + ["-rA", "--sw"], None)], ["exit", "summary", "outcomes", "lastfailed"]),
    Case("paths_outside", "relative `-c`, `--rootdir`, `--confcutdir` given from outside the project "
         "(taken from the directory xdock runs in)", PATHS,
         [(N2 + ["-rA", "-c", "project/cfg/custom.ini", "--confcutdir=project/tests/sub", "project/tests"], None),
          (N2 + ["-rA", "--rootdir=project/tests", "-cproject/cfg/custom.ini", "project/tests/sub"], None),
          (N2 + ["-rA", "--rootdir", "project", "--confcutdir", "project/tests", "project/tests"], None)],
         ["exit", "summary", "outcomes_by_file"], cwd=".."),
    Case("paths_inside", "relative `-c`, `--rootdir`, `--confcutdir` given from a subdirectory of the project",
         PATHS,
         [(N2 + ["-rA", "-c../../cfg/custom.ini", "--confcutdir=.", ".."], None),
          (N2 + ["-rA", "--rootdir=..", "-c", "../../cfg/custom.ini", "."], None)],
         ["exit", "summary", "outcomes"], cwd="tests/sub"),
    Case("info", "`--version`/`-V`, `--markers`, `--fixtures`/`--funcargs`, `--cache-show`, `--setup-plan`, "
         "`--setup-only`, `--fixtures-per-test`: pytest answers without running tests, exit 0", INFO,
         [(N2 + ["-V"], None), (N2 + ["--markers"], None), (N2 + ["--funcargs"], None),
          (N2 + ["--cache-show"], None), (N2 + ["--setup-only"], None), (N2 + ["--fixtures-per-test"], None)],
         ["exit", "summary", "project_info"]),
]

# Rows that are decided without a run here, with the reason.
STATIC_ROWS = [
    ("`--pdb`", "refused with pytest-xdist's message (xdist refuses it too)"),
    ("`-x`, `--maxfail`", "xdock stops the workers; the controller reports as xdist does"),
    ("`-v`, `-q`", "passed to the controller, which prints the progress and summary"),
    ("`--json-report`", "xdock's own JSON report, written from the workers' results"),
]

# -- every option of `pytest --help` ---------------------------------------
# (spellings, what xdock does, the case or test that shows it). "same" rows
# name a case above (the suite checks that it exists); the others say why.
SAME = "same as pytest-xdist"
OPTIONS = [
    # general
    (("-k",), SAME, "selection"),
    (("-m",), SAME, "selection"),
    (("--markers",), SAME, "info"),
    (("-x", "--exitfirst"), "xdock's own (the same meaning): stops the workers, the controller reports as xdist's",
     "collect_error_x"),
    (("--fixtures", "--funcargs"), SAME, "info"),
    (("--fixtures-per-test",), SAME, "info"),
    (("--pdb",), "refused with pytest-xdist's message and exit 4, as xdist refuses it under `-n`", "t_project_layout.sh"),
    (("--pdbcls",), SAME + " (no debugger starts without `--pdb`)", "output_flags"),
    (("--trace",), SAME + " (no terminal reaches a worker's debugger: it reads end of input and goes on, as in "
     "xdist's workers)", "output_flags"),
    (("--capture", "-s"), SAME + " (the workers' output is not shown while tests run, as under xdist)",
     "output_flags"),
    (("--runxfail",), SAME, "selection"),
    (("--lf", "--last-failed", "--ff", "--failed-first", "--nf", "--new-first", "--cache-clear", "--lfnf",
      "--last-failed-no-failures"), SAME, "cache"),
    (("--cache-show",), SAME, "info"),
    (("--sw", "--stepwise"), SAME, "stepwise"),
    (("--sw-skip", "--stepwise-skip"), "passed to pytest as under xdist; a later run's outcome is not compared: "
     "the controller records the first failure it hears of, which with parallel workers depends on timing, "
     "under xdist and xdock alike", "—"),
    # reporting
    (("--durations", "--durations-min"), SAME, "durations"),
    (("-v", "--verbose", "-q", "--quiet", "--verbosity"), SAME, "verbosity"),
    (("--no-header", "--no-summary"), SAME, "no_header_summary"),
    (("-r",), SAME, "report_chars"),
    (("--disable-warnings", "--disable-pytest-warnings"), SAME, "output_flags"),
    (("-l", "--showlocals", "--tb", "--color"), SAME, "tb_styles"),
    (("--no-showlocals", "--show-capture", "--full-trace", "--code-highlight"), SAME, "output_flags"),
    (("--pastebin",), SAME + " (sent by the controller; a container has no route out, so the upload fails as "
     "on a host offline)", "output_flags"),
    (("--junit-xml", "--junit-prefix"), SAME + " (`--junitxml`/`--junit-xml` is also xdock's option: the "
     "controller's junitxml writes it)", "junitxml"),
    # pytest-warnings
    (("-W", "--pythonwarnings"), SAME, "selection"),
    (("--maxfail",), "xdock's own (the same meaning): stops the workers after N failures", "collect_error_x"),
    (("--strict-config",), SAME, "strict_config"),
    (("--strict-markers", "--strict"), SAME, "selection"),
    (("-c", "--rootdir"), SAME + " (relative to the directory xdock runs in)", "paths_outside"),
    (("--continue-on-collection-errors",), SAME, "collect_error"),
    # collection
    (("--collect-only", "--co"), SAME, "collect_only"),
    (("--pyargs", "--ignore", "--ignore-glob", "--deselect", "--noconftest", "--keep-duplicates",
      "--collect-in-virtualenv", "--import-mode"), SAME, "selection"),
    (("--confcutdir",), SAME + " (relative to the directory xdock runs in)", "paths_inside"),
    (("--doctest-modules", "--doctest-report", "--doctest-glob", "--doctest-ignore-import-errors",
      "--doctest-continue-on-failure"), SAME, "doctest"),
    # session debugging and configuration
    (("--basetemp",), SAME + ": each worker's tmp_path under `<basetemp>/popen-gwN`", "selection"),
    (("-V", "--version"), SAME, "info"),
    (("-h", "--help"), "xdock's own: `xdock run --help` lists xdock's options; `pytest --help` lists pytest's",
     "test_cli"),
    (("-p",), SAME, "selection"),
    (("--trace-config", "--debug"), SAME + " (each worker's pytest writes its own trace, as xdist's workers "
     "do)", "output_flags"),
    (("-o", "--override-ini"), SAME, "selection"),
    (("--assert",), SAME, "output_flags"),
    (("--setup-only", "--setup-plan"), SAME, "info"),
    (("--setup-show",), SAME, "output_flags"),

    # logging
    (("--log-level", "--log-format", "--log-date-format", "--log-cli-level", "--log-cli-format",
      "--log-cli-date-format", "--log-file", "--log-file-level", "--log-file-format", "--log-file-date-format",
      "--log-auto-indent"), SAME, "output_flags"),
    # pytest-cov
    (("--cov", "--cov-reset", "--cov-report", "--cov-config", "--no-cov-on-fail", "--no-cov",
      "--cov-fail-under", "--cov-append", "--cov-branch", "--cov-context"), SAME, "coverage"),
    # pytest-django (in the test image, not on the host: compared by t_django.sh with xdist in a container)
    (("--reuse-db",), "taken over by xdock with pytest-django's meaning: the embedded server and the template "
     "are kept between runs", "t_reuse_db.sh"),
    (("--create-db", "--ds", "--dc", "--no-migrations", "--migrations", "--liveserver", "--fail-on-template-vars"),
     "passed to pytest-django in every worker and the controller; the host has no pytest-django, so not "
     "compared here", "—"),
    # pytest-xdist
    (("-n", "--numprocesses"), "xdock's own (the same meaning): that many worker containers; `auto` as xdist's",
     "auto_env"),
    (("--maxprocesses",), "xdock's own (the same meaning)", "auto_env"),
    (("--max-worker-restart",), "xdock's own (the same meaning): crashed workers are replaced, at most N times",
     "t_faults.sh"),
    (("--dist", "-d"), "xdock's own (the same meaning; `-d` is `--dist load`); xdock's scheduler, see "
     "scheduling.md", "t_dist_modes.sh"),
    (("--tx", "--rsyncdir", "--rsyncignore"), "not applicable, exit 4 saying why: the workers are containers of "
     "`--image` with the project mounted, not execnet gateways", "test_cli"),
    (("--testrunuid",), "not applicable, exit 4 saying why: xdock gives every run its own id", "test_cli"),
    (("-f", "--looponfail"), "not applicable, exit 4 saying why: xdock does not watch the files (run it again)",
     "test_cli"),
]


def help_options(text):
    """Every option spelling `pytest --help` prints: "-k", "--lf", ..."""
    got = set()
    for line in text.splitlines():
        m = re.match(r"^  (-[^ ].*?)(?:  |$)", line)
        if not m:
            continue
        for part in re.split(r", (?=-)", m.group(1)):
            got.add(re.split(r"[ =\[]", part, 1)[0])
    return got


def check_options():
    """Every option of pytest --help (the host's and the test image's) has a
    row; every row names real options, and a case or test that exists."""
    helps = {"host": [HOST_PY, "-m", "pytest", "--help"],
             "image": ["docker", "run", "--rm", "--network", "none", (IMAGE[1] if IMAGE else "xdock/python:bookworm"),
                       "python3", "-m", "pytest", "--help"]}
    tmp = tempfile.mkdtemp(prefix="xdock-compat-help.")
    problems = []
    have = {}
    try:
        for name, argv in helps.items():
            p = subprocess.run(argv, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
            if p.returncode != 0:
                problems.append("%s: pytest --help failed: %s" % (name, p.stderr.strip()[-300:]))
                continue
            for opt in help_options(p.stdout):
                have.setdefault(opt, name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    listed = {}
    for spellings, does, proof in OPTIONS:
        for s in spellings:
            if s in listed:
                problems.append("%s has two rows" % s)
            listed[s] = proof
        known = {c.name for c in CASES} | {"—"}
        if proof not in known and not os.path.exists(os.path.join(SRC, "tests", "integration", proof)) \
                and proof not in ("test_cli",):
            problems.append("the row of %s names %s, which is neither a case nor a test" % (spellings[0], proof))
        if does.startswith(SAME) and proof not in {c.name for c in CASES}:
            problems.append("the row of %s says \"same\" without a compat case" % spellings[0])
    if not problems or have:
        for opt in sorted(set(have) - set(listed)):
            problems.append("pytest --help (%s) has %s; the options table has no row for it" % (have[opt], opt))
        for opt in sorted(set(listed) - set(have)):
            problems.append("the options table lists %s, which pytest --help does not have" % opt)
    return problems


def _write(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))


def _run(argv, cwd, extra_env=None):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", COLUMNS="100", **(extra_env or {}))
    env.pop("PYTEST_ADDOPTS", None)
    p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    # The two copies of the project live in different directories.
    out = p.stdout.replace(cwd, "<project>")
    return {"rc": p.returncode, "out": out, "err": p.stderr, "dir": cwd}


def run_case(case, tmp):
    host_dir = os.path.join(tmp, case.name, "host", "project")
    xdock_dir = os.path.join(tmp, case.name, "xdock", "project")
    for d in (host_dir, xdock_dir):
        _write(d, case.files)
    failures = []
    for i, (host_args, xdock_args) in enumerate(case.steps):
        before = len(failures)
        if xdock_args is None:
            xdock_args = host_args
        # xdock's own -n goes first; the rest is pytest's.
        xargs = xdock_args[2:] if xdock_args[:2] == N2 else xdock_args
        host = _run([HOST_PY, "-m", "pytest"] + host_args, os.path.normpath(os.path.join(host_dir, case.cwd)),
                    case.env)
        xd = _run([XDOCK, "run", "-n", "2", "--db", "none"] + IMAGE + xargs,
                  os.path.normpath(os.path.join(xdock_dir, case.cwd)), case.env)
        host["dir"], xd["dir"] = host_dir, xdock_dir
        for what in case.compare:
            try:
                want = COMPARE[what](host)
            except Exception as e:  # the reference itself is broken
                want = "unreadable: %r" % e
            try:
                got = COMPARE[what](xd)
            except Exception as e:
                got = "unreadable: %r" % e
            if want != got:
                failures.append("step %d (%s): %s differs\n      pytest-xdist: %r\n      xdock:        %r"
                                % (i + 1, " ".join(host_args) or "(addopts)", what, want, got))
        if len(failures) > before:
            failures.append("step %d: xdock's stderr:\n%s" % (i + 1, textwrap.indent(xd["err"][-1500:], "      ")))
    return failures


def table():
    lines = ["| pytest / pytest-xdist | what xdock does | proven by |", "|---|---|---|"]
    for c in CASES:
        lines.append("| %s | %s | `tests/compat` case `%s` |" % (c.row, c.xdock_does, c.name))
    for row, does in STATIC_ROWS:
        lines.append("| %s | %s | — |" % (row, does))
    lines += ["", "Every option `pytest --help` prints with the test image's plugins (pytest-xdist, pytest-cov, "
              "pytest-django), checked both ways by `compat.py --check-options`:", "",
              "| option | what xdock does | proven by |", "|---|---|---|"]
    for spellings, does, proof in OPTIONS:
        if proof in {c.name for c in CASES}:
            proof = "`tests/compat` case `%s`" % proof
        elif proof != "—":
            proof = "`%s`" % proof
        lines.append("| %s | %s | %s |" % (", ".join("`%s`" % o for o in spellings), does, proof))
    return "\n".join(lines) + "\n"


BEGIN = "<!-- compat table: generated by tests/compat/compat.py --table -->"
END = "<!-- end of compat table -->"


def check_docs():
    path = os.path.join(SRC, "docs", "usage.md")
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        return ["docs/usage.md has no compat table between its markers"]
    have = text.split(BEGIN, 1)[1].split(END, 1)[0].strip() + "\n"
    if have != table():
        return ["docs/usage.md's compat table differs from `tests/compat/compat.py --table`"]
    return []


def main(argv):
    if argv[1:2] == ["--table"]:
        sys.stdout.write(table())
        return 0
    if argv[1:2] == ["--check-options"]:
        # Quick (two `pytest --help`): the tables cannot drift from pytest.
        problems = check_docs() + check_options()
        for msg in problems:
            print("FAIL - %s" % msg)
        print("compat options: %d problems" % len(problems))
        return 1 if problems else 0
    wanted = set(argv[1:])
    unknown = wanted - {c.name for c in CASES}
    if unknown:
        print("compat: no such case: %s" % ", ".join(sorted(unknown)), file=sys.stderr)
        return 2
    probe = subprocess.run([HOST_PY, "-c", "import pytest, xdist, pytest_cov"], capture_output=True)
    if probe.returncode != 0:
        print("compat: %s lacks pytest, pytest-xdist or pytest-cov (scripts/setup installs them)" % HOST_PY,
              file=sys.stderr)
        return 1
    failed = 0
    docs = check_docs()
    for msg in docs:
        print("FAIL - %s" % msg)
        failed += 1
    tmp = tempfile.mkdtemp(prefix="xdock-compat.")
    try:
        for case in CASES:
            if wanted and case.name not in wanted:
                continue
            problems = run_case(case, tmp)
            if problems:
                failed += 1
                print("FAIL - %s" % case.name)
                for p in problems:
                    print("    " + p)
            else:
                print("ok   - %s" % case.name)
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("compat: %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
