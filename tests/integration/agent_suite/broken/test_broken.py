# Fails at import: the agent must report a collection error, not crash.
import no_such_module_xdock  # noqa: F401


def test_never():
    pass
