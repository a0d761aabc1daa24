/* cron.c: five-field cron expressions, parsed into bit sets, and the next matching minute in UTC. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "worker/worker.h"

#define CRON_EXPR_MAX 256   /* longer expressions are refused rather than truncated */
#define CRON_SEARCH_YEARS 10  /* Feb 29 recurs within 8 years (2096 -> 2104); anything rarer is a bug */

enum cron_field { F_MINUTE = 0, F_HOUR, F_DOM, F_MONTH, F_DOW, F__MAX };

struct field_spec {
	const char         *name;    /* in error messages */
	int                 lo, hi;  /* accepted numbers (day-of-week accepts 7 for Sunday) */
	const char *const  *names;   /* lo-based names, or NULL */
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field_spec fields[F__MAX] = {
	[F_MINUTE] = { "minute", 0, 59, NULL },
	[F_HOUR] = { "hour", 0, 23, NULL },
	[F_DOM] = { "day-of-month", 1, 31, NULL },
	[F_MONTH] = { "month", 1, 12, month_names },
	[F_DOW] = { "day-of-week", 0, 7, dow_names },
};

/* Shorthands, as Vixie cron has them (@reboot means nothing here: schedules have no boot). */
static const struct { const char *name, *expr; } macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* Days in month m (1..12) of a leap year: the most a day-of-month can need. */
static const int month_days_max[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

/* Read a number or a name of field f at *p; advances *p. 0 on success. */
static int
read_value(const struct field_spec *f, const char **p, int *out, char *err, size_t errsz)
{
	const char *s = *p;
	int v = 0, n = 0;

	if (isdigit((unsigned char)*s)) {
		while (isdigit((unsigned char)*s)) {
			if (++n > 4) {
				snprintf(err, errsz, "%s: number too long", f->name);
				return -1;
			}
			v = v * 10 + (*s++ - '0');
		}
	} else if (isalpha((unsigned char)*s)) {
		const char *start = s;
		while (isalpha((unsigned char)*s))
			s++;
		v = -1;
		if (f->names != NULL && s - start == 3)
			for (int i = 0; f->names[i] != NULL; i++)
				if (strncasecmp(start, f->names[i], 3) == 0)
					v = f->lo + i;
		if (v < 0) {
			snprintf(err, errsz, "%s: unknown name \"%.*s\"", f->name, (int)(s - start) > 16 ? 16 :
			    (int)(s - start), start);
			return -1;
		}
	} else {
		snprintf(err, errsz, "%s: expected a number%s at \"%.16s\"", f->name, f->names ? " or a name" : "",
		    *s ? s : "(end)");
		return -1;
	}
	if (v < f->lo || v > f->hi) {
		snprintf(err, errsz, "%s: %d is out of range %d-%d", f->name, v, f->lo, f->hi);
		return -1;
	}
	*p = s;
	*out = v;
	return 0;
}

/* Parse one comma-separated field of length len into a bit set. *star: the field starts with `*`. */
static int
parse_field(enum cron_field fi, const char *s, size_t len, uint64_t *bits, int *star, char *err, size_t errsz)
{
	const struct field_spec *f = &fields[fi];
	char buf[CRON_EXPR_MAX];
	const char *p;
	int lo, hi, step, rc = -1;
	uint64_t set = 0;

	memcpy(buf, s, len);
	buf[len] = '\0';
	*star = buf[0] == '*';
	p = buf;
	for (;;) {
		if (*p == ',' || *p == '\0') {
			snprintf(err, errsz, "%s: empty list item", f->name);
			goto out;
		}
		if (*p == '*') {
			lo = f->lo;
			hi = fi == F_DOW ? 6 : f->hi;
			p++;
		} else {
			if (read_value(f, &p, &lo, err, errsz) != 0)
				goto out;
			hi = lo;
			if (*p == '-') {
				p++;
				if (read_value(f, &p, &hi, err, errsz) != 0)
					goto out;
				if (hi < lo) {
					snprintf(err, errsz, "%s: range %d-%d is backwards", f->name, lo, hi);
					goto out;
				}
			} else if (*p == '/') {
				/* "5/15" as cronie reads it: from 5 to the end of the range, every 15. */
				hi = fi == F_DOW ? 6 : f->hi;
			}
		}
		step = 1;
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p)) {
				snprintf(err, errsz, "%s: a step needs a number after '/'", f->name);
				goto out;
			}
			step = 0;
			while (isdigit((unsigned char)*p) && step <= f->hi + 1)
				step = step * 10 + (*p++ - '0');
			if (step == 0 || step > f->hi + 1 || isdigit((unsigned char)*p)) {
				snprintf(err, errsz, "%s: step must be from 1 to %d", f->name, f->hi + 1);
				goto out;
			}
		}
		for (int v = lo; v <= hi; v += step)
			set |= (uint64_t)1 << (fi == F_DOW && v == 7 ? 0 : v);
		if (*p == '\0')
			break;
		if (*p != ',') {
			snprintf(err, errsz, "%s: unexpected \"%c\"", f->name, isprint((unsigned char)*p) ? *p : '?');
			goto out;
		}
		p++;
	}
	*bits = set;
	rc = 0;
out:
	return rc;
}

int
cron_parse(const char *expr, struct cron *out, char *err, size_t errsz)
{
	const char *p = expr, *start[F__MAX];
	size_t len[F__MAX];
	uint64_t bits[F__MAX];
	int n = 0, star[F__MAX], ok;

	memset(out, 0, sizeof(*out));
	if (expr == NULL || strlen(expr) >= CRON_EXPR_MAX) {
		snprintf(err, errsz, "cron: expression missing or longer than %d characters", CRON_EXPR_MAX - 1);
		return -1;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '@') {
		size_t l = strcspn(p, " \t\r\n");
		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (strlen(macros[i].name) == l && strncasecmp(p, macros[i].name, l) == 0) {
				p += l;
				while (isspace((unsigned char)*p))
					p++;
				if (*p != '\0')
					break;
				return cron_parse(macros[i].expr, out, err, errsz);
			}
		snprintf(err, errsz, "cron: unknown shorthand \"%.*s\" (use @hourly, @daily, @weekly, @monthly "
		    "or @yearly)", (int)(l > 20 ? 20 : l), p);
		return -1;
	}
	while (*p != '\0') {
		if (n == F__MAX) {
			n++;
			break;
		}
		start[n] = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		len[n] = (size_t)(p - start[n]);
		n++;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (n != F__MAX) {
		snprintf(err, errsz, "cron: expected 5 fields (minute hour day-of-month month day-of-week), got %s%d",
		    n > F__MAX ? "more than " : "", n > F__MAX ? F__MAX : n);
		return -1;
	}
	for (int i = 0; i < F__MAX; i++)
		if (parse_field((enum cron_field)i, start[i], len[i], &bits[i], &star[i], err, errsz) != 0)
			return -1;
	out->minute = bits[F_MINUTE];
	out->hour = (uint32_t)bits[F_HOUR];
	out->dom = (uint32_t)bits[F_DOM];
	out->month = (uint16_t)bits[F_MONTH];
	out->dow = (uint8_t)bits[F_DOW];
	out->dom_star = (uint8_t)star[F_DOM];
	out->dow_star = (uint8_t)star[F_DOW];

	/* "0 0 30 2 *" would never run: say so now rather than leave a schedule that silently never fires.
	 * Only the day-of-month alone can make that happen: every month has every weekday. */
	if (!out->dom_star && out->dow_star) {
		ok = 0;
		for (int m = 1; m <= 12 && !ok; m++)
			if (out->month & (1u << m))
				for (int d = 1; d <= month_days_max[m]; d++)
					if (out->dom & (1u << d))
						ok = 1;
		if (!ok) {
			snprintf(err, errsz, "day-of-month: no selected month has any of the selected days");
			return -1;
		}
	}
	return 0;
}

static int
day_matches(const struct cron *c, const struct tm *tm)
{
	int dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;

	/* Vixie cron: a `*` in either day field makes the days the AND of both; otherwise the OR. */
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

int64_t
cron_next(const struct cron *c, int64_t after_epoch_s)
{
	struct tm tm;
	time_t t;
	int limit_year;

	/* The next whole minute strictly after the given time. */
	t = (time_t)(after_epoch_s - (((after_epoch_s % 60) + 60) % 60) + 60);
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	limit_year = tm.tm_year + CRON_SEARCH_YEARS;
	/* Move to the start of the next unit whenever a coarser field does not match; timegm() normalises
	 * the overflow (day 32, hour 24, month 13) and fills in the weekday. */
	while (tm.tm_year <= limit_year) {
		if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!((c->hour >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!((c->minute >> tm.tm_min) & 1)) {
			tm.tm_min++;
		} else {
			return (int64_t)timegm(&tm);
		}
		tm.tm_sec = 0;
		tm.tm_isdst = 0;
		t = timegm(&tm);
		if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL)
			return -1;
	}
	return -1;
}
