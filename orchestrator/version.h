/* `xdock version`: xdock's own version, the engine API version it
 * negotiates (when an engine answers) and the versions of the libraries
 * it runs with (libcurl, libpq, cJSON, libinih has none to ask). */
#ifndef XDOCK_VERSION_H
#define XDOCK_VERSION_H

#include <stdio.h>

/* Prints one "name version" line each. An engine that does not answer is
 * a line that says so, not an error. */
void version_print(FILE *out, const char *host);

#endif
