/* Shared by the three parts of the command line: cli.c (the option table,
 * --help, applying one option), cli_args.c (run's arguments, in any order)
 * and cli_cmd.c (the commands and config-file settings). No other file
 * includes it. */
#ifndef XDOCK_CLI_PRIV_H
#define XDOCK_CLI_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "util.h"

/* How a value lands in struct config. */
enum opt_to {
	TO_STR,    /* const char * at off */
	TO_INT,    /* int at off, >= min */
	TO_DOUBLE, /* double at off, >= 0 */
	TO_TRUE,   /* bool at off (a flag; a config file may say false) */
	TO_FN,     /* fn does it */
};

#define OPT_PATH     1u /* from a config file: relative to that file */
#define OPT_CLI_ONLY 2u /* not a config file key */

struct opt {
	const char *name;  /* long spelling, "--image" */
	const char *alias; /* a second long spelling, or NULL */
	char shrt;         /* short letter, or 0 */
	const char *meta;  /* the value's name in --help; NULL: a flag */
	const char *help;
	enum opt_to to;
	size_t off;
	int min;
	int (*fn)(struct config *cfg, const char *v, struct error **err);
	unsigned flags;
};

/* The option named name[0..len) ("--image"; an alias too), or NULL. */
const struct opt *cli_find_long(const char *name, size_t len);
/* The option with short letter c, or NULL. */
const struct opt *cli_find_short(char c);
/* Applies one option with its value (NULL for a flag). */
int cli_apply(struct config *cfg, const struct opt *o, const char *v, struct error **err);
/* --docker-host: one more engine (every command that takes it). */
int cli_add_docker_host(struct config *cfg, const char *v, struct error **err);
/* pytest-xdist's refusal of name[0..len) ("--pdb"), or NULL. */
const char *cli_refused(const char *name, size_t len);
/* Whether pytest's long option name[0..len) / short letter c takes a
 * value, so that the value stays with it wherever it stands. */
bool cli_pytest_valued(const char *name, size_t len);
bool cli_pytest_valued_short(char c);

#endif
