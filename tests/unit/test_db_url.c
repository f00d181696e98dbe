/* db_url_parse / db_url_format / db_url_masked (db_url.c): libpq's
 * PQconninfoParse reads the string; these check what xdock makes of it,
 * what it refuses on top, and that no message shows a password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db_url.h"

static void
parse_ok(const char *url, struct db_url *u)
{
	struct error *err = NULL;

	if (db_url_parse(url, u, &err) < 0)
		fail_msg("parse %s: %s", url, err->msg);
	assert_null(err);
}

static void
parse_bad(const char *url, const char *needle)
{
	struct db_url u;
	cleanup_error struct error *err = NULL;

	assert_int_equal(db_url_parse(url, &u, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->status, EXIT_USAGE);
	if (!strstr(err->msg, needle))
		fail_msg("parse %s: message \"%s\" lacks \"%s\"", url, err->msg, needle);
	/* One line, and no password in it. */
	assert_null(strchr(err->msg, '\n'));
	assert_null(strstr(err->msg, "topsecret"));
	assert_null(strstr(err->msg, "hunter"));
	assert_null(strstr(err->msg, "p%4"));
	/* Nothing half-parsed is handed back. */
	assert_null(u.user);
	assert_null(u.host);
	assert_null(u.dbname);
}

static void
test_full(void **state)
{
	struct db_url u;
	(void)state;

	parse_ok("postgresql://alice:s3cret@db.example:6543/app?sslmode=disable&connect_timeout=3", &u);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.password, "s3cret");
	assert_string_equal(u.host, "db.example");
	assert_int_equal(u.port, 6543);
	assert_string_equal(u.dbname, "app");
	/* The other options in libpq's order, not the URL's. */
	assert_string_equal(u.query, "connect_timeout=3&sslmode=disable");
	db_url_release(&u);
	assert_null(u.user);
}

static void
test_minimal_forms(void **state)
{
	struct db_url u;
	(void)state;

	parse_ok("postgres://", &u);
	assert_null(u.user);
	assert_null(u.password);
	assert_null(u.host);
	assert_int_equal(u.port, 0);
	assert_null(u.dbname);
	assert_null(u.query);
	db_url_release(&u);

	parse_ok("postgresql://h", &u);
	assert_string_equal(u.host, "h");
	assert_null(u.dbname);
	db_url_release(&u);

	parse_ok("POSTGRESQL://h/", &u);
	assert_string_equal(u.host, "h");
	assert_null(u.dbname);
	db_url_release(&u);

	parse_ok("postgresql:///only_db", &u);
	assert_null(u.host);
	assert_string_equal(u.dbname, "only_db");
	db_url_release(&u);

	parse_ok("postgresql://bob@h:1/d?", &u);
	assert_string_equal(u.user, "bob");
	assert_null(u.password);
	assert_int_equal(u.port, 1);
	assert_null(u.query);
	db_url_release(&u);

	/* An empty password in a URL is none: libpq does not send it. */
	parse_ok("postgresql://bob:@h", &u);
	assert_string_equal(u.user, "bob");
	assert_null(u.password);
	db_url_release(&u);
	/* Given as key=value, libpq sends it. */
	parse_ok("host=h user=bob password=''", &u);
	assert_string_equal(u.password, "");
	db_url_release(&u);

	/* A query parameter wins over the URL's part, as libpq connects. */
	parse_ok("postgresql://h?host=/tmp", &u);
	assert_string_equal(u.host, "/tmp");
	assert_null(u.dbname);
	assert_null(u.query);
	db_url_release(&u);

	/* An empty port is libpq's default. */
	parse_ok("postgresql://h:/d", &u);
	assert_int_equal(u.port, 0);
	assert_string_equal(u.dbname, "d");
	db_url_release(&u);
}

static void
test_percent_decoding(void **state)
{
	struct db_url u;
	(void)state;

	parse_ok("postgresql://us%40er:p%3Aa%2Fss%25w%20d@%2Fvar%2Frun%2Fpostgresql/my%20db%C3%A9%22x", &u);
	assert_string_equal(u.user, "us@er");
	assert_string_equal(u.password, "p:a/ss%w d");
	assert_string_equal(u.host, "/var/run/postgresql");
	assert_string_equal(u.dbname, "my db\xc3\xa9\"x");
	db_url_release(&u);

	/* An unencoded '@' in the password: the last '@' ends the userinfo. */
	parse_ok("postgresql://u:p@ss@h/d", &u);
	assert_string_equal(u.user, "u");
	assert_string_equal(u.password, "p@ss");
	assert_string_equal(u.host, "h");
	db_url_release(&u);

	/* Lower-case hex works too. */
	parse_ok("postgresql://h/a%2fb", &u);
	assert_string_equal(u.dbname, "a/b");
	db_url_release(&u);

	/* libpq takes everything after the host's '/' as the name. */
	parse_ok("postgresql://h/a/b", &u);
	assert_string_equal(u.dbname, "a/b");
	db_url_release(&u);
}

/* What the hand-written parser refused or left unparsed: query
 * parameters are libpq's options, percent-decoded, and override the
 * URL's parts; the rest stay in the query, encoded again. */
static void
test_query_parameters(void **state)
{
	struct db_url u;
	cleanup_free char *s = NULL;
	(void)state;

	parse_ok("postgresql://h/d?user=bob&port=7000&dbname=other%20db&password=p%26w", &u);
	assert_string_equal(u.user, "bob");
	assert_int_equal(u.port, 7000);
	assert_string_equal(u.dbname, "other db");
	assert_string_equal(u.password, "p&w");
	assert_null(u.query);
	db_url_release(&u);

	parse_ok("postgresql://h/d?application_name=x%26y%3Dz&sslmode=prefer&options=-c%20search_path%3Dapp", &u);
	assert_string_equal(u.query, "options=-c%20search_path%3Dapp&application_name=x%26y%3Dz&sslmode=prefer");
	s = db_url_format(&u, NULL, 0, NULL);
	assert_string_equal(s, "postgresql://h/d?options=-c%20search_path%3Dapp&application_name=x%26y%3Dz&sslmode=prefer");
	db_url_release(&u);
}

/* libpq's key=value pairs read as the URL would be. */
static void
test_keyword_value(void **state)
{
	struct db_url u;
	cleanup_free char *s = NULL;
	(void)state;

	parse_ok("host=db.example port=6543 user=alice password='s 3\\'x' dbname = app sslmode=disable", &u);
	assert_string_equal(u.host, "db.example");
	assert_int_equal(u.port, 6543);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.password, "s 3'x");
	assert_string_equal(u.dbname, "app");
	assert_string_equal(u.query, "sslmode=disable");
	s = db_url_format(&u, NULL, 0, NULL);
	assert_string_equal(s, "postgresql://alice:s%203%27x@db.example:6543/app?sslmode=disable");
	db_url_release(&u);

	parse_ok("host=/var/run/postgresql dbname=x", &u);
	assert_string_equal(u.host, "/var/run/postgresql");
	assert_null(u.user);
	db_url_release(&u);
}

static void
test_ipv6(void **state)
{
	struct db_url u;
	(void)state;

	parse_ok("postgresql://x:y@[::1]:5433/d", &u);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 5433);
	assert_string_equal(u.dbname, "d");
	db_url_release(&u);

	parse_ok("postgresql://[2001:db8::7]/d", &u);
	assert_string_equal(u.host, "2001:db8::7");
	assert_int_equal(u.port, 0);
	db_url_release(&u);

	parse_ok("postgresql://[::ffff:127.0.0.1]", &u);
	assert_string_equal(u.host, "::ffff:127.0.0.1");
	db_url_release(&u);

	/* A zone id, percent-encoded in the URL, and back. */
	parse_ok("postgresql://[fe80::1%25lo]:5/d", &u);
	assert_string_equal(u.host, "fe80::1%lo");
	{
		cleanup_free char *s = db_url_format(&u, NULL, 0, NULL);

		assert_string_equal(s, "postgresql://[fe80::1%25lo]:5/d");
	}
	db_url_release(&u);
}

/* The message names the problem (libpq's words where libpq refuses) and
 * never the password. */
static void
test_bad_urls(void **state)
{
	(void)state;
	parse_bad("mysql://h/d", "postgresql://");
	parse_bad("h:5432/d", "postgresql://");
	parse_bad("", "postgresql://");
	parse_bad("postgresql://h:0/d", "out of range");
	parse_bad("postgresql://h:65536/d", "out of range");
	parse_bad("postgresql://h:12a/d", "bad port");
	parse_bad("postgresql://h:123456/d", "bad port");
	parse_bad("postgresql://[::1/d", "matching \"]\"");
	parse_bad("postgresql://[]/d", "may not be empty");
	parse_bad("postgresql://[::1]x/d", "unexpected character \"x\"");
	parse_bad("postgresql://[::g]/d", "bad IPv6 address");
	parse_bad("postgresql://h/d%2", "invalid percent-encoded token");
	parse_bad("postgresql://h/d%zz", "invalid percent-encoded token");
	parse_bad("postgresql://u:p%4@h/d", "invalid percent-encoded token: \"***\"");
	parse_bad("postgresql://h/d%00x", "%00");
	parse_bad("postgresql://h1,h2/d", "several hosts");
	parse_bad("postgresql://h/a b", "space");
	parse_bad("postgresql://h/a\nb", "control");
	parse_bad("postgresql://h/d?nosuch=1", "invalid URI query parameter: \"nosuch\"");
	parse_bad("postgresql://h/d?password=hunter%zz", "invalid percent-encoded token: \"***\"");
	parse_bad("postgresql://h/d?port=99999", "out of range");
	parse_bad("host=h nosuch=1", "invalid connection option \"nosuch\"");
	parse_bad("host=h port=x", "bad port");
	parse_bad("host=h password='unterminated", "unterminated quoted string");
	parse_bad("host=h1,h2", "several hosts");
	/* libpq quotes the whole URL it could not read: masked there too. */
	parse_bad("postgresql://u:topsecret@[::1/d", "postgresql://u:***@[::1/d");
	parse_bad("postgresql://u:p@ss@[::1/d", "postgresql://u:***@[::1/d");
}

static void
check_format(const struct db_url *u, const char *host, int port, const char *db, const char *want)
{
	cleanup_free char *s = db_url_format(u, host, port, db);

	assert_string_equal(s, want);
}

static void
test_format(void **state)
{
	struct db_url u;
	(void)state;

	parse_ok("postgres://xdock:xdock@127.0.0.1:5432/postgres?sslmode=disable", &u);
	check_format(&u, NULL, 0, NULL, "postgresql://xdock:xdock@127.0.0.1:5432/postgres?sslmode=disable");
	check_format(&u, "pg", 0, "test_db_gw3", "postgresql://xdock:xdock@pg:5432/test_db_gw3?sslmode=disable");
	check_format(&u, "::1", 6000, NULL, "postgresql://xdock:xdock@[::1]:6000/postgres?sslmode=disable");
	check_format(&u, NULL, 0, "we'ird \"db\" \xc3\xa9/%",
		     "postgresql://xdock:xdock@127.0.0.1:5432/we%27ird%20%22db%22%20%C3%A9%2F%25?sslmode=disable");
	db_url_release(&u);

	parse_ok("postgresql://h", &u);
	check_format(&u, NULL, 0, NULL, "postgresql://h");
	check_format(&u, NULL, 0, "d", "postgresql://h/d");
	db_url_release(&u);

	parse_ok("postgresql://:pw@/d", &u);
	assert_null(u.user);
	check_format(&u, NULL, 0, NULL, "postgresql://:pw@/d");
	db_url_release(&u);
}

/* format(parse(x)) parses back to the same fields, for awkward values. */
static void
test_round_trip(void **state)
{
	static const char *const odd[] = {
		"plain", "with space", "p@ss:word/?#&=", "100%", "quote'\"back\\slash", "\xe2\x98\x83 snow",
		"tab\there", "~._-",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(odd); i++) {
		struct db_url in = { 0 }, out;
		cleanup_free char *s = NULL;

		in.user = (char *)odd[i];
		in.password = (char *)odd[(i + 1) % ARRAY_SIZE(odd)];
		in.host = i % 2 ? (char *)"fe80::1" : (char *)"db-host.local";
		in.port = (int)(1000 + i);
		in.dbname = (char *)odd[(i + 2) % ARRAY_SIZE(odd)];
		in.query = i % 3 ? NULL : (char *)"application_name=x&sslmode=prefer";
		s = db_url_format(&in, NULL, 0, NULL);
		parse_ok(s, &out);
		assert_string_equal(out.user, in.user);
		assert_string_equal(out.password, in.password);
		assert_string_equal(out.host, in.host);
		assert_int_equal(out.port, in.port);
		assert_string_equal(out.dbname, in.dbname);
		if (in.query)
			assert_string_equal(out.query, in.query);
		else
			assert_null(out.query);
		{
			/* The masked form parses too, and carries *** only. */
			cleanup_free char *m = db_url_masked(s);
			struct db_url mu;

			parse_ok(m, &mu);
			assert_string_equal(mu.password, "***");
			assert_string_equal(mu.user, in.user);
			assert_string_equal(mu.dbname, in.dbname);
			db_url_release(&mu);
		}
		db_url_release(&out);
	}
}

static void
check_mask(const char *url, const char *want)
{
	cleanup_free char *m = db_url_masked(url);

	assert_string_equal(m, want);
}

static void
test_masked(void **state)
{
	(void)state;
	check_mask("postgresql://xdock:xdock@127.0.0.1:5432/postgres", "postgresql://xdock:***@127.0.0.1:5432/postgres");
	check_mask("postgresql://u:p@ss@h/d", "postgresql://u:***@h/d");
	check_mask("postgresql://u@h/d", "postgresql://u@h/d");
	check_mask("postgresql://h:5432/d", "postgresql://h:5432/d");
	check_mask("postgresql://u:pw@[::1]:5/d?a=1&password=hunter2&b=2",
		   "postgresql://u:***@[::1]:5/d?a=1&password=***&b=2");
	check_mask("postgres://h/d?PASSWORD=x", "postgres://h/d?PASSWORD=***");
	/* Unparseable URLs are still masked: they are the ones in errors. */
	check_mask("postgresql://u:secret@h:99999/d%zz", "postgresql://u:***@h:99999/d%zz");
	check_mask("host=h password=secret dbname=d", "host=h password=*** dbname=d");
	check_mask("host=h password = 'a b\\' c' dbname=d", "host=h password = *** dbname=d");
	check_mask("", "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),	  cmocka_unit_test(test_minimal_forms), cmocka_unit_test(test_percent_decoding),
		cmocka_unit_test(test_query_parameters), cmocka_unit_test(test_keyword_value),
		cmocka_unit_test(test_ipv6),	  cmocka_unit_test(test_bad_urls),	cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_masked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
