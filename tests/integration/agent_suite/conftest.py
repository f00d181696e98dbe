"""Fixtures that leave a trace the driver can check: each line of the file
named by XDOCK_SUITE_EVENTS records a fixture or test event in order."""

import os

import pytest


def record(event):
    path = os.environ.get("XDOCK_SUITE_EVENTS")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(event + "\n")


@pytest.fixture(scope="module")
def module_resource(request):
    name = request.module.__name__
    record("setup " + name)
    yield name
    record("teardown " + name)


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")
