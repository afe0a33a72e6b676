/* SPDX-License-Identifier: MIT */
/* Logging: one line per event, "LEVEL component: message key=value". */
#ifndef NODESCORE_LOG_H
#define NODESCORE_LOG_H

#include <stdarg.h>

enum ns_log_level {
	NS_LOG_ERROR = 0,
	NS_LOG_WARNING = 1,
	NS_LOG_SUCCESS = 2,
	NS_LOG_INFO = 3,
};

/* Messages above this level are dropped before formatting. Default INFO. */
extern enum ns_log_level ns_log_max;

/* Parses "error", "warning", "success", "info" (case-insensitive).
 * Returns 0, or -EINVAL for anything else (level unchanged). */
int ns_log_set_level(const char *name);

void ns_log_write(enum ns_log_level lvl, const char *component, int with_errno, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
void ns_log_vwrite(enum ns_log_level lvl, const char *component, int errnum, const char *fmt,
		   va_list ap);

#define NS_LOG_(lvl, comp, en, ...)                                                                \
	do {                                                                                       \
		if ((lvl) <= ns_log_max)                                                           \
			ns_log_write((lvl), (comp), (en), __VA_ARGS__);                            \
	} while (0)

#define log_error(comp, ...) NS_LOG_(NS_LOG_ERROR, comp, 0, __VA_ARGS__)
#define log_warning(comp, ...) NS_LOG_(NS_LOG_WARNING, comp, 0, __VA_ARGS__)
#define log_info(comp, ...) NS_LOG_(NS_LOG_INFO, comp, 0, __VA_ARGS__)
#define log_success(comp, ...) NS_LOG_(NS_LOG_SUCCESS, comp, 0, __VA_ARGS__)
/* Variants appending " error=<strerror(errno)>"; errno is read at the call. */
#define log_error_errno(comp, ...) NS_LOG_(NS_LOG_ERROR, comp, 1, __VA_ARGS__)
#define log_warning_errno(comp, ...) NS_LOG_(NS_LOG_WARNING, comp, 1, __VA_ARGS__)

#endif
