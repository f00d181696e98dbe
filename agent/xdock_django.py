"""xdock's pytest-django support: carried inside xdock-agent next to
xdock_plugin.py, which registers it in a worker when pytest-django is
loaded and Django's settings are configured.

Under pytest-xdist, pytest-django creates and migrates a test database per
worker (test_<NAME>_gwN). Under xdock the worker already has one, cloned
from the template that --db-setup migrated: test_db_gwN, named in the
settings by PGDATABASE or DATABASE_URL. This module gives pytest-django a
`django_db_setup` that uses it as it stands ("existing database", as a
user's override would), and does what Django's create_test_db does after
creating a database, so tests behave as under plain pytest-django:

- migrations the clone lacks (no --db-setup, a stale template) are applied
  in place, saying so once;
- the database is serialized for serialized_rollback;
- the cache tables are created (createcachetable).

Databases in DATABASES that are not the worker's are set up by Django as
pytest-django would. A user's own `django_db_setup` wins: one in a
conftest.py always does (pytest prefers conftest fixtures to plugin ones);
one in another plugin makes this module stand aside. Where the database
cannot be used as it stands (--nomigrations, TEST MIGRATE False, settings
that do not name it), pytest-django's own setup runs and xdock says so in
one line at start-up.
"""

import os

import pytest


def worker_database():
    """The name of the database xdock made for this worker."""
    return "test_db_" + os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _given_database():
    """The worker database named in the environment xdock gave (PGDATABASE
    or DATABASE_URL), or None: --db none, --db-env none."""
    from urllib.parse import unquote, urlsplit

    names = [os.environ.get("PGDATABASE", "")]
    url = os.environ.get("DATABASE_URL", "")
    if url:
        try:
            names.append(unquote(urlsplit(url).path.lstrip("/")))
        except ValueError:
            pass
    return worker_database() if worker_database() in names else None


def _is_postgres(db):
    engine = str(db.get("ENGINE", ""))
    return "postgresql" in engine or "postgis" in engine


def _foreign_override(pluginmanager):
    """A plugin other than pytest-django (a conftest.py aside) that defines
    django_db_setup: registered before us, its fixture would lose to ours."""
    from pytest_django import fixtures

    for plugin in pluginmanager.get_plugins():
        try:
            obj = getattr(plugin, "django_db_setup", None)
        except Exception:
            continue
        if obj is None or obj is fixtures.django_db_setup or isinstance(plugin, DjangoDatabase):
            continue
        path = getattr(plugin, "__file__", None) or ""
        if os.path.basename(path).startswith("conftest.py"):
            continue
        if callable(obj):
            return plugin
    return None


def setup(config, note):
    """Called at session start, before collection (fixtures are looked up
    then): registers the fixture when the worker's database can be used,
    or notes why not. note(text) sends one line to the user."""
    pluginmanager = config.pluginmanager
    if not pluginmanager.has_plugin("django"):
        return
    try:
        from pytest_django.lazy_django import django_settings_is_configured
    except ImportError:
        return
    if not django_settings_is_configured() or _foreign_override(pluginmanager) is not None:
        return
    from django.conf import settings

    mine = worker_database()
    aliases = [alias for alias, db in settings.DATABASES.items()
               if _is_postgres(db) and db.get("NAME") == mine]
    if not aliases:
        if _given_database():
            note("xdock: pytest-django: no database in DATABASES is named test_db_gwN (read "
                 "PGDATABASE or DATABASE_URL in the settings): pytest-django creates and "
                 "migrates its own in every worker, and the template goes unused")
        return
    if config.getvalue("nomigrations"):
        note("xdock: pytest-django: --nomigrations: pytest-django builds its own test database "
             "in every worker, and the template goes unused")
        return
    unmigrated = [a for a in aliases if (settings.DATABASES[a].get("TEST") or {}).get("MIGRATE") is False]
    if unmigrated:
        note("xdock: pytest-django: DATABASES[%r] has TEST MIGRATE False: pytest-django builds its "
             "own test database in every worker, and the template goes unused" % unmigrated[0])
        return
    pluginmanager.register(DjangoDatabase(aliases, note), "xdock_django")


class DjangoDatabase:
    """The plugin object holding the fixture. Registered after
    pytest-django, so pytest prefers its django_db_setup to
    pytest-django's."""

    def __init__(self, aliases, note):
        self.aliases = aliases
        self.note = note

    @pytest.fixture(scope="session")
    def django_db_setup(self, request, django_test_environment, django_db_blocker,
                        django_db_modify_db_settings, django_db_keepdb, django_db_createdb):
        """pytest-django's fixture, for a worker whose database exists."""
        from django.db import connections
        from django.test.utils import setup_databases, teardown_databases

        verbosity = request.config.option.verbose
        others = [alias for alias in connections if alias not in self.aliases]
        created = None
        with django_db_blocker.unblock():
            if others:
                # The rest as pytest-django sets them up (a second server,
                # SQLite): the worker's own comes as it stands.
                keep = bool(django_db_keepdb and not django_db_createdb)
                created = setup_databases(verbosity=verbosity, interactive=False, keepdb=keep,
                                          aliases=others)
            done = set()
            for alias in self.aliases:
                self._take(connections[alias], verbosity, done)

        def teardown():
            with django_db_blocker.unblock():
                try:
                    teardown_databases(created, verbosity=verbosity)
                except Exception as exc:
                    request.node.warn(pytest.PytestWarning(
                        "Error when trying to teardown test databases: %r" % exc))

        if created and not django_db_keepdb:
            request.addfinalizer(teardown)

    def _take(self, connection, verbosity, done):
        """What create_test_db does once the test database exists."""
        from django.core.management import call_command
        from django.db.migrations.executor import MigrationExecutor

        db = connection.settings_dict
        # Anything asking Django for the test database's name gets this
        # one, as after create_test_db (the xdist suffix made it
        # test_test_db_gwN_gwN).
        db.setdefault("TEST", {})["NAME"] = db["NAME"]
        key = (db.get("HOST"), db.get("PORT"), db["NAME"])
        if key in done:
            return  # another alias of the same database: a mirror
        done.add(key)
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            first = plan[0][0]
            self.note("xdock: pytest-django: test_db_gwN lacks %d migration%s (from %s.%s): "
                      "migrating it in every worker; a --db-setup that migrates "
                      "(python3 manage.py migrate) does it once, in the template"
                      % (len(plan), "" if len(plan) == 1 else "s", first.app_label, first.name))
        # As create_test_db: migrate (a no-op when the template is
        # current), serialize for serialized_rollback, cache tables.
        if plan:
            call_command("migrate", verbosity=max(verbosity - 1, 0), interactive=False,
                         database=connection.alias, run_syncdb=True)
        if db["TEST"].get("SERIALIZE", True):
            connection._test_serialized_contents = connection.creation.serialize_db_to_string()
        call_command("createcachetable", database=connection.alias)
        connection.ensure_connection()
