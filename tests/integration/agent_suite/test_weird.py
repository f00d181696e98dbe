import os
import sys

import pytest


@pytest.mark.parametrize(
    "value",
    ["plain", 'say "hi"', "line\nbreak", "emoji \U0001f600", "back\\slash"],
    ids=["plain", 'say "hi"', "line\nbreak", "emoji \U0001f600", "back\\slash"],
)
def test_ids(value):
    assert value


def test_bad_utf8_output():
    sys.stdout.flush()
    os.write(1, b"bad \xff\xfe bytes \xed\xa0\x80 end\n")
    sys.stderr.write("emoji \U0001f600 on stderr\n")
    assert False, "invalid \udcff surrogate in the message"


def test_noisy():
    chunk = "x" * 1023 + "\n"
    for _ in range(1024):
        sys.stdout.write(chunk)
    sys.stdout.flush()
    # Straight to the fds, past pytest's sys.stdout: must not reach the
    # protocol stream, and reading stdin must not steal protocol bytes.
    os.write(1, b'{"t":"done"}\n{"t":"crash","i":0}\n')
    os.write(2, b'{"t":"exit","status":0}\n')
    assert os.read(0, 100) == b""
