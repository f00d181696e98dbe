/* The project's config files, read with real parsers (libinih for
 * pytest.ini, tox.ini and setup.cfg; the vendored tomlc99 for
 * pyproject.toml): whether a file is pytest's inifile, its addopts, and
 * xdock's own section ([xdock] or [tool.xdock]). */
#ifndef XDOCK_INIFILE_H
#define XDOCK_INIFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* One `key = value` of xdock's section; a TOML array gives one entry per
 * element, a flag without a value (never in these formats) NULL. */
struct inifile_setting {
	char *key;
	char *value;
};

struct inifile {
	char *path;
	bool pytest;           /* has pytest's section: pytest would use it */
	char **addopts;        /* pytest's addopts, split as pytest splits it */
	size_t naddopts;
	bool has_xdock;        /* has xdock's section */
	const char *xdock_section; /* "[xdock]" or "[tool.xdock]" */
	struct inifile_setting *settings;
	size_t nsettings;
};

/* pytest's inifile names, in the order it looks for them in a directory. */
extern const char *const inifile_names[];

/* Reads path (one of inifile_names, or any file given with -c: its name
 * decides the format, as for pytest). A malformed file is EXIT_USAGE
 * with the file and line named. */
int inifile_read(const char *path, struct inifile *out, struct error **err);
void inifile_release(struct inifile *f);

#endif
