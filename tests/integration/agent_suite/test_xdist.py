import os


def test_worker_id(worker_id, testrun_uid):
    assert worker_id == os.environ["PYTEST_XDIST_WORKER"]
    assert testrun_uid == os.environ["PYTEST_XDIST_TESTRUNUID"]


def test_workerinput(request):
    wi = request.config.workerinput
    assert wi["workercount"] == int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    assert wi["workerid"] == os.environ["PYTEST_XDIST_WORKER"]
    assert isinstance(wi["mainargv"], list)
