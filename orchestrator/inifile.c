#include "inifile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <toml.h>

#include "buf.h"
#include "cli.h"

const char *const inifile_names[] = { "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", NULL };

/* A config file larger than this is not a config file. */
#define INIFILE_MAX (1024 * 1024)

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void
add_setting(struct inifile *f, const char *key, const char *value)
{
	f->settings = xrealloc(f->settings, (f->nsettings + 1) * sizeof(*f->settings));
	f->settings[f->nsettings].key = xstrdup(key);
	f->settings[f->nsettings].value = value ? xstrdup(value) : NULL;
	f->nsettings++;
}

static int
split_addopts(struct inifile *f, const char *text, struct error **err)
{
	if (cli_split(text, &f->addopts, &f->naddopts) < 0)
		return error_set(err, EXIT_USAGE, "%s: addopts: no closing quotation", f->path);
	return 0;
}

/* The whole file, at most INIFILE_MAX bytes. */
static int
read_capped(const char *path, struct buf *b, struct error **err)
{
	FILE *fp = fopen(path, "r");
	char chunk[4096];
	size_t n;

	if (!fp)
		return error_set(err, EXIT_USAGE, "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_append(b, chunk, n) < 0) {
			fclose(fp);
			return error_set(err, EXIT_USAGE, "%s: larger than %d bytes", path, INIFILE_MAX);
		}
	}
	fclose(fp);
	return 0;
}

/* --- ini (libinih) --- */

struct ini_state {
	struct inifile *f;
	const char *pytest_section; /* "pytest" or "tool:pytest" */
	struct buf addopts;          /* continuation lines joined by \n */
	bool has_addopts;
};

static int
ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	struct inifile *f = st->f;

	if (strcmp(section, st->pytest_section) == 0) {
		f->pytest = true;
		if (strcmp(name, "addopts") == 0) {
			if (st->has_addopts && st->addopts.len && buf_append(&st->addopts, "\n", 1) < 0)
				return 0;
			st->has_addopts = true;
			if (buf_append(&st->addopts, value, strlen(value)) < 0)
				return 0;
		}
	} else if (strcmp(section, "xdock") == 0) {
		f->has_xdock = true;
		/* A continuation line comes back with the same key: one more
		 * entry (env takes one a line; for other keys the last one
		 * wins). An empty value sets nothing. */
		if (*value)
			add_setting(f, name, value);
	}
	return 1;
}

/* libinih reads lines of at most INI_MAX_LINE - 3 bytes and would take
 * the rest of a longer one for a line of its own: such a file is refused
 * rather than read wrong. Comment lines do not matter. */
static int
check_lines(const struct inifile *f, const char *text, struct error **err)
{
	int lineno = 1;

	for (const char *l = text; *l; lineno++) {
		size_t n = strcspn(l, "\n");
		size_t lead = strspn(l, " \t");

		if (n > INI_MAX_LINE - 3 && l[lead] != '#' && l[lead] != ';')
			return error_set(err, EXIT_USAGE, "%s:%d: a line of %zu bytes, more than the %d the ini parser reads",
					 f->path, lineno, n, INI_MAX_LINE - 3);
		l += n + (l[n] == '\n');
	}
	return 0;
}

static int
read_ini(struct inifile *f, struct error **err)
{
	struct ini_state st = { .f = f };
	const char *name = base_name(f->path);
	struct buf text;
	int line;

	st.pytest_section = ends_with(name, ".cfg") ? "tool:pytest" : "pytest";
	buf_init(&text, INIFILE_MAX);
	if (read_capped(f->path, &text, err) < 0 || check_lines(f, text.data ? text.data : "", err) < 0) {
		buf_release(&text);
		return -1;
	}
	buf_init(&st.addopts, INIFILE_MAX);
	line = ini_parse_string(text.data ? text.data : "", ini_cb, &st);
	buf_release(&text);
	if (line < 0) {
		buf_release(&st.addopts);
		return error_set(err, EXIT_USAGE, "%s: out of memory", f->path);
	}
	if (line > 0) {
		buf_release(&st.addopts);
		return error_set(err, EXIT_USAGE, "%s:%d: not valid ini syntax", f->path, line);
	}
	/* pytest.ini is pytest's inifile even with no [pytest] section. */
	if (strcmp(name, "pytest.ini") == 0 || strcmp(name, ".pytest.ini") == 0)
		f->pytest = true;
	f->xdock_section = "[xdock]";
	if (st.has_addopts && split_addopts(f, st.addopts.data ? st.addopts.data : "", err) < 0) {
		buf_release(&st.addopts);
		return -1;
	}
	buf_release(&st.addopts);
	return 0;
}

/* --- pyproject.toml (tomlc99) --- */

static void
toml_close(toml_table_t **t)
{
	if (*t)
		toml_free(*t);
}

static int
xdock_value(struct inifile *f, const toml_table_t *t, const char *key, struct error **err)
{
	toml_datum_t d;
	toml_array_t *arr;
	char num[64];

	if ((d = toml_string_in(t, key)).ok) {
		add_setting(f, key, d.u.s);
		free(d.u.s);
	} else if ((d = toml_bool_in(t, key)).ok) {
		add_setting(f, key, d.u.b ? "true" : "false");
	} else if ((d = toml_int_in(t, key)).ok) {
		snprintf(num, sizeof(num), "%" PRId64, d.u.i);
		add_setting(f, key, num);
	} else if ((d = toml_double_in(t, key)).ok) {
		snprintf(num, sizeof(num), "%.17g", d.u.d);
		add_setting(f, key, num);
	} else if ((arr = toml_array_in(t, key)) != NULL) {
		for (int i = 0; i < toml_array_nelem(arr); i++) {
			d = toml_string_at(arr, i);
			if (!d.ok)
				return error_set(err, EXIT_USAGE, "%s: [tool.xdock] %s: expected strings in the list",
						 f->path, key);
			add_setting(f, key, d.u.s);
			free(d.u.s);
		}
	} else {
		return error_set(err, EXIT_USAGE, "%s: [tool.xdock] %s: expected a string, number, boolean or list",
				 f->path, key);
	}
	return 0;
}

static int
read_toml(struct inifile *f, struct error **err)
{
	__attribute__((cleanup(toml_close))) toml_table_t *root = NULL;
	toml_table_t *tool, *t;
	char errbuf[200];
	struct buf text;

	buf_init(&text, INIFILE_MAX);
	if (read_capped(f->path, &text, err) < 0) {
		buf_release(&text);
		return -1;
	}
	root = toml_parse(text.data ? text.data : (char[]){ "" }, errbuf, sizeof(errbuf));
	buf_release(&text);
	if (!root)
		return error_set(err, EXIT_USAGE, "%s: not valid TOML: %s", f->path, errbuf);
	f->xdock_section = "[tool.xdock]";
	if (!(tool = toml_table_in(root, "tool")))
		return 0;
	if ((t = toml_table_in(tool, "pytest")) && (t = toml_table_in(t, "ini_options"))) {
		toml_datum_t d = toml_string_in(t, "addopts");
		toml_array_t *arr;

		f->pytest = true;
		if (d.ok) {
			int rc = split_addopts(f, d.u.s, err);

			free(d.u.s);
			if (rc < 0)
				return -1;
		} else if ((arr = toml_array_in(t, "addopts")) != NULL) {
			/* A list is taken as it stands, word by word. */
			for (int i = 0; i < toml_array_nelem(arr); i++) {
				d = toml_string_at(arr, i);
				if (!d.ok)
					return error_set(err, EXIT_USAGE, "%s: addopts: expected strings in the list",
							 f->path);
				f->addopts = xrealloc(f->addopts, (f->naddopts + 1) * sizeof(*f->addopts));
				f->addopts[f->naddopts++] = d.u.s;
			}
		} else if (toml_key_exists(t, "addopts")) {
			return error_set(err, EXIT_USAGE, "%s: addopts: expected a string or a list of strings", f->path);
		}
	}
	if ((t = toml_table_in(tool, "xdock"))) {
		const char *key;

		f->has_xdock = true;
		for (int i = 0; (key = toml_key_in(t, i)) != NULL; i++)
			if (xdock_value(f, t, key, err) < 0)
				return -1;
	}
	return 0;
}

int
inifile_read(const char *path, struct inifile *out, struct error **err)
{
	memset(out, 0, sizeof(*out));
	out->path = xstrdup(path);
	if (ends_with(base_name(path), ".toml")) {
		if (read_toml(out, err) < 0)
			goto fail;
	} else if (read_ini(out, err) < 0) {
		goto fail;
	}
	return 0;
fail:
	inifile_release(out);
	return -1;
}

void
inifile_release(struct inifile *f)
{
	for (size_t i = 0; i < f->naddopts; i++)
		free(f->addopts[i]);
	free(f->addopts);
	for (size_t i = 0; i < f->nsettings; i++) {
		free(f->settings[i].key);
		free(f->settings[i].value);
	}
	free(f->settings);
	free(f->path);
	memset(f, 0, sizeof(*f));
}
