/* The pytest plugins the agent carries: agent/xdock_plugin.py (every
 * worker), agent/xdock_django.py (which the worker's registers when
 * pytest-django is loaded) and agent/xdock_controller.py (the run's
 * controller), embedded at build time by agent/embed.cmake so the static
 * binary is self-contained. */
#ifndef XDOCK_AGENT_PLUGIN_H
#define XDOCK_AGENT_PLUGIN_H

#include <stddef.h>

/* Each file's bytes, NUL-terminated; the length excludes the NUL. */
extern const char agent_plugin_py[];
extern const size_t agent_plugin_py_len;
extern const char agent_django_py[];
extern const size_t agent_django_py_len;
extern const char agent_controller_py[];
extern const size_t agent_controller_py_len;

#endif
