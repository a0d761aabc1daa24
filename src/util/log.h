/* log.h: one-line, sanitised logging to stderr with a context (request id, job id, program). */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
int  log_enabled(enum log_level level);
int  log_level_parse(const char *s, enum log_level *out);

/* ctx may be NULL. Control characters in the formatted message are escaped. */
void log_msg(enum log_level level, const char *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *ctx, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define log_error(ctx, ...) log_msg(LOG_ERROR, (ctx), __VA_ARGS__)
#define log_warn(ctx, ...)  log_msg(LOG_WARN, (ctx), __VA_ARGS__)
#define log_info(ctx, ...)  do { if (log_enabled(LOG_INFO)) log_msg(LOG_INFO, (ctx), __VA_ARGS__); } while (0)
#define log_debug(ctx, ...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, (ctx), __VA_ARGS__); } while (0)

#endif
