/* log.c: one line per message: "prog [time] LEVEL ctx: msg", control characters escaped. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

static const char *log_prog = "timebridge";
static enum log_level log_level_cur = LOG_INFO;
static const char *const log_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level_cur = level;
}

void
log_set_level(enum log_level level)
{
	log_level_cur = level;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level_cur;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

void
log_vmsg(enum log_level level, const char *ctx, const char *fmt, va_list ap)
{
	char msg[2048], line[4096 + 256], ts[32];
	struct timespec now;
	struct tm tm;
	size_t o = 0;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	o = (size_t)snprintf(line, sizeof(line), "%s [%s.%03ldZ] %s %s%s", log_prog, ts,
	    now.tv_nsec / 1000000, log_names[level], ctx ? ctx : "", ctx ? ": " : "");
	/* Escape control characters so user data cannot forge log lines. */
	for (const unsigned char *p = (const unsigned char *)msg; *p && o + 5 < sizeof(line); p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "\\x%02x", *p);
		else
			line[o++] = (char)*p;
	}
	line[o++] = '\n';
	fwrite(line, 1, o, stderr);
}

void
log_msg(enum log_level level, const char *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, ctx, fmt, ap);
	va_end(ap);
}
