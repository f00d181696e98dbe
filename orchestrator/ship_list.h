/* Which files of a project travel to an engine that cannot bind-mount
 * it: what git would track plus untracked files it does not ignore (every
 * regular file and symbolic link when the project is no git work tree,
 * .git aside), less what .dockerignore excludes, plus pytest's cache.
 * Names, and what each link points to: the bytes are read when they are
 * sent (tar.h). */
#ifndef XDOCK_SHIP_LIST_H
#define XDOCK_SHIP_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct ship_list {
	char **files;           /* relative to the project, sorted */
	char **links;           /* links[i]: files[i] is a symbolic link to this
				 * (relative, inside the project); NULL: a file */
	size_t n;
	uint64_t bytes;         /* the files' sizes summed */
	size_t skipped;         /* dangling links, loops and other non-files left out */
	bool from_git;
};

/* Errors name the file and say what is wrong; the caller says "ship:"
 * (ship_upload), once.
 * extra: a directory (absolute, under project_dir, may be missing) whose
 * files go too whatever git says (pytest's cache). A symbolic link whose
 * target (followed to the end) lies outside the project is refused
 * (EXIT_USAGE): the engine cannot see what it points to. */
int ship_list_make(struct ship_list *l, const char *project_dir, const char *extra, struct error **err);
void ship_list_release(struct ship_list *l);
/* Whether .dockerignore's patterns (one a line, '#' comments, '!' makes an
 * exception, the last match wins, a directory's pattern covers what is
 * under it, '**' crosses directories) exclude rel. Exposed for tests. */
bool ship_list_ignored(const char *const *patterns, size_t n, const char *rel);

#endif
