/* Where a run happens: pytest's rootdir and inifile, decided the way
 * pytest decides them, the directory mounted into every container (the
 * project) and the containers' working directory. A function of the
 * arguments and the file system alone (no engine, no globals), so it is
 * unit-tested on real directory trees. */
#ifndef XDOCK_ROOTDIR_H
#define XDOCK_ROOTDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct rootdir_in {
	const char *cwd;                  /* absolute */
	const char *const *args;          /* positional pytest arguments */
	size_t nargs;
	const char *inifile_arg;          /* -c FILE, or NULL */
	const char *rootdir_arg;          /* --rootdir DIR, or NULL */
};

struct rootdir {
	char *rootdir;     /* pytest's rootdir */
	char *inifile;     /* pytest's inifile, NULL when none */
	char *project_dir; /* mounted at the same path in every container */
	char *workdir;     /* the containers' working directory */
	/* The user's directory is outside the project: relative paths on
	 * the command line must be made absolute. */
	bool cwd_outside;
};

/* Decides everything above. An inifile that does not exist, a --rootdir
 * that is not a directory, or a set of paths whose only common directory
 * is / is EXIT_USAGE naming what would have to change. */
int rootdir_decide(const struct rootdir_in *in, struct rootdir *out, struct error **err);
void rootdir_release(struct rootdir *r);
/* p made absolute against cwd and normalised lexically ("." and ".."
 * removed, as Python's os.path.abspath does). Heap. */
char *rootdir_abspath(const char *cwd, const char *p);

#endif
