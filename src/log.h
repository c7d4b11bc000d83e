/* log.h — messages for people: errors always, flow decisions at -v. */
#ifndef HELLOSPLIT_LOG_H
#define HELLOSPLIT_LOG_H

#include <stdio.h>

struct engine_flow_event;

extern int log_verbosity;
/* Where messages go; NULL (the default) is stderr. The Windows service sets
 * its log file: a service has no stderr its C library could reopen. */
extern FILE *log_file;
FILE *log_stream(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* -v: one line per flow decision. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* engine_log_fn printing one line per flow decision (at -v). */
void log_flow_event(void *ctx, const struct engine_flow_event *ev);

#endif
