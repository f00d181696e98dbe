from conftest import record


def test_other(module_resource):
    record("test test_other")
