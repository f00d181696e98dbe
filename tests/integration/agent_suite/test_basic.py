import pytest

from conftest import record


def test_pass(module_resource):
    record("test test_pass")


def test_fail(module_resource):
    record("test test_fail")
    print("out of test_fail")
    assert 1 + 1 == 3


def test_setup_error(broken):
    pass


def test_skip():
    pytest.skip("not today")


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(reason="fixed already")
def test_xpass():
    pass


@pytest.mark.xfail(reason="strict", strict=True)
def test_xpass_strict():
    pass


@pytest.mark.xdist_group("db")
def test_last_of_module(module_resource):
    record("test test_last_of_module")
