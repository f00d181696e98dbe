import os
import signal
import sys
import time


def test_fine():
    pass


def test_exit3():
    os.write(2, b"dying \xff\xfe now\n")
    os._exit(3)


def test_segv():
    os.kill(os.getpid(), signal.SIGSEGV)


def test_sleep():
    time.sleep(30)


def test_pid_then_sleep():
    path = os.environ["XDOCK_SUITE_PIDFILE"]
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    time.sleep(60)
    sys.exit(1)
