/* The commands (run, replay, bisect, gc, version, help), the defaults,
 * and settings from the project's config files. */
#include "cli.h"
#include "cli_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
parse_bool(const char *key, const char *v, bool *out, struct error **err)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return error_set(err, EXIT_USAGE, "%s: expected true or false, got \"%s\"", key, v);
}

int
cli_set(struct config *cfg, const char *key, const char *value, const char *origin, const char *base,
	struct error **err)
{
	char name[64];
	const struct opt *o;
	size_t len = strlen(key);

	if (len + 3 > sizeof(name))
		return error_set(err, EXIT_USAGE, "%s: unknown xdock setting \"%.40s...\"", origin, key);
	name[0] = name[1] = '-';
	for (size_t i = 0; i <= len; i++)
		name[i + 2] = key[i] == '_' ? '-' : key[i];
	o = cli_find_long(name, len + 2);
	if (!o || (o->flags & OPT_CLI_ONLY))
		return error_set(err, EXIT_USAGE, "%s: unknown xdock setting \"%s\"", origin, key);
	if (!o->meta) {
		bool on = true;

		if (value && parse_bool(key, value, &on, err) < 0)
			return error_wrap(err, "%s", origin);
		if (o->to == TO_TRUE)
			*(bool *)(void *)((char *)cfg + o->off) = on;
		else if (on && cli_apply(cfg, o, NULL, err) < 0)
			return error_wrap(err, "%s", origin);
	} else {
		if (!value)
			return error_set(err, EXIT_USAGE, "%s: %s needs a value", origin, key);
		if ((o->flags & OPT_PATH) && base && value[0] != '/')
			value = cli_own(cfg, xasprintf("%s/%s", base, value));
		else
			value = cli_own(cfg, xstrdup(value));
		if (cli_apply(cfg, o, value, err) < 0)
			return error_wrap(err, "%s", origin);
	}
	{
		char *prev = cfg->origins;

		cfg->origins = xasprintf("%s%s: %s\n", prev ? prev : "", o->name + 2, origin);
		free(prev);
	}
	return 0;
}

void
cli_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->command = CLI_RUN;
	cfg->workers = 2;
	cfg->image = "xdock/python:bookworm";
	cfg->db_image = "xdock/postgres:15";
	cfg->dist = SCHED_LOAD;
	cfg->db = CLI_DB_EMBEDDED;
	cfg->max_worker_restart = -1;
	cfg->db_setup_timeout = 3600;
}

/* `gc [--all] [--db-url URL] [--docker-host URL]`, `version [--docker-host URL]`. */
static int
parse_engine_cmd(int argc, char **argv, enum cli_command cmd, struct config *cfg, struct error **err)
{
	cfg->command = cmd;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (cmd == CLI_GC && strcmp(a, "--all") == 0) {
			cfg->gc_all = true;
		} else if (cmd == CLI_GC && (strcmp(a, "--db-url") == 0 || strncmp(a, "--db-url=", 9) == 0)) {
			if (!a[8] && i + 1 >= argc)
				return error_set(err, EXIT_USAGE, "--db-url needs a value");
			cfg->db_url = a[8] ? a + 9 : argv[++i];
		} else if (strncmp(a, "--docker-host=", 14) == 0) {
			if (cli_add_docker_host(cfg, a + 14, err) < 0)
				return -1;
		} else if (strcmp(a, "--docker-host") == 0) {
			if (i + 1 >= argc)
				return error_set(err, EXIT_USAGE, "--docker-host needs a value");
			if (cli_add_docker_host(cfg, argv[++i], err) < 0)
				return -1;
		} else {
			return error_set(err, EXIT_USAGE, "%s: unknown argument \"%s\"", argv[1], a);
		}
	}
	return 0;
}

/* xdock replay [gwN] [--worker gwN] [--until NODEID] [--report FILE] and
 * xdock bisect NODEID [--worker gwN] [--report FILE] [--serial]: the
 * worker or test comes first; run's options (engine, --db-url, -n,
 * reports, -v) follow; pytest arguments come from the recorded run. */
int
cli_parse_replay(int argc, char **argv, struct config *cfg, struct error **err)
{
	const char *cmd = argv[1];
	cleanup_free const char **rest = xcalloc((size_t)argc + 1, sizeof(*rest));
	size_t nrest = 0, recorded = cfg->npytest_args;
	int i = 2;

	cfg->command = strcmp(cmd, "replay") == 0 ? CLI_REPLAY : CLI_BISECT;
	if (i < argc && argv[i][0] != '-') {
		if (cfg->command == CLI_REPLAY)
			cfg->replay_worker = argv[i];
		else
			cfg->replay_until = argv[i];
		i++;
	}
	for (; i < argc; i++) {
		static const char *const named[] = { "--worker", "--until", "--report" };
		const char **field[] = { &cfg->replay_worker, &cfg->replay_until, &cfg->replay_report };
		const char *a = argv[i];
		bool taken = false;

		for (size_t k = 0; k < ARRAY_SIZE(named) && !taken; k++) {
			size_t len = strlen(named[k]);

			if (strncmp(a, named[k], len) != 0 || (a[len] != '\0' && a[len] != '='))
				continue;
			if (a[len] == '=') {
				*field[k] = a + len + 1;
			} else if (i + 1 < argc) {
				*field[k] = argv[++i];
			} else {
				return error_set(err, EXIT_USAGE, "%s: %s needs a value", cmd, named[k]);
			}
			taken = true;
		}
		if (!taken && cfg->command == CLI_BISECT && strcmp(a, "--serial") == 0)
			cfg->bisect_serial = taken = true;
		if (!taken)
			rest[nrest++] = a;
	}
	if (cli_parse_run(cfg, rest, nrest, err) < 0)
		return error_wrap(err, "%s", cmd);
	if (cfg->command == CLI_HELP)
		return 0;
	if (cfg->npytest_args > recorded)
		return error_set(err, EXIT_USAGE, "%s: unknown argument \"%s\" (pytest's arguments come from the recorded run)",
				 cmd, cfg->pytest_args[recorded]);
	if (cfg->command == CLI_BISECT && !cfg->replay_until)
		return error_set(err, EXIT_USAGE, "bisect: which test? (xdock bisect NODEID)");
	if (cfg->command == CLI_REPLAY && !cfg->replay_worker && !cfg->replay_until)
		return error_set(err, EXIT_USAGE, "replay: which worker? (xdock replay gw1, or --until NODEID)");
	return cli_finish(cfg, err);
}

int
cli_parse(int argc, char **argv, struct config *cfg, struct error **err)
{
	cli_defaults(cfg);
	if (argc < 2) {
		cfg->command = CLI_HELP;
		return error_set(err, EXIT_USAGE, "no command given (try: xdock run -n 4 tests/)");
	}
	if (strcmp(argv[1], "run") == 0) {
		if (cli_parse_run(cfg, (const char *const *)argv + 2, (size_t)(argc - 2), err) < 0)
			return -1;
		return cfg->command == CLI_HELP ? 0 : cli_finish(cfg, err);
	}
	if (strcmp(argv[1], "gc") == 0)
		return parse_engine_cmd(argc, argv, CLI_GC, cfg, err);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)
		return parse_engine_cmd(argc, argv, CLI_VERSION, cfg, err);
	if (strcmp(argv[1], "replay") == 0 || strcmp(argv[1], "bisect") == 0)
		return cli_parse_replay(argc, argv, cfg, err);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		cfg->command = CLI_HELP;
		return 0;
	}
	return error_set(err, EXIT_USAGE, "unknown command \"%s\" (run, replay, bisect, gc, version)", argv[1]);
}
