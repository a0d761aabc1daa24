/* test_cron.c: the cron parser (worker/cron.c): accepted forms, the next run across hour, day, month, year
 * and leap-year edges, the day-of-month/day-of-week OR rule, and the message of each kind of bad input. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "worker/worker.h"

/* Epoch seconds of a UTC wall-clock time. */
static int64_t
at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

static const char *
fmt(int64_t t)
{
	static char buf[4][32];
	static int i;
	time_t tt = (time_t)t;
	struct tm tm;

	i = (i + 1) % 4;
	if (t < 0)
		return "never";
	gmtime_r(&tt, &tm);
	strftime(buf[i], sizeof(buf[i]), "%Y-%m-%d %H:%M", &tm);
	return buf[i];
}

/* The next run of expr after the given time, formatted, or the parse error prefixed with "error: ". */
static const char *
next(const char *expr, int64_t after)
{
	static char out[300];
	char err[256];
	struct cron c;

	if (cron_parse(expr, &c, err, sizeof(err)) != 0) {
		snprintf(out, sizeof(out), "error: %s", err);
		return out;
	}
	return fmt(cron_next(&c, after));
}

/* expr is refused and the message contains want. */
static void
bad(const char *expr, const char *want)
{
	char err[256] = "";
	struct cron c;
	int rc = cron_parse(expr, &c, err, sizeof(err));

	CHECK_INT(rc, -1);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "cron \"%s\": message \"%s\" lacks \"%s\"\n", expr, err, want);
		check_failed++;
	} else
		check_passed++;
}

int
main(void)
{
	struct cron c;
	char err[256];
	int64_t t;

	/* Every five minutes: strictly after, and to the next whole slot. */
	CHECK_STR(next("*/5 * * * *", at(2024, 1, 1, 0, 0, 0)), "2024-01-01 00:05");
	CHECK_STR(next("*/5 * * * *", at(2024, 1, 1, 0, 3, 59)), "2024-01-01 00:05");
	CHECK_STR(next("*/5 * * * *", at(2024, 1, 1, 0, 5, 0)), "2024-01-01 00:10");
	CHECK_STR(next("*/5 * * * *", at(2024, 1, 1, 23, 57, 0)), "2024-01-02 00:00");
	CHECK_STR(next("* * * * *", at(2024, 1, 1, 10, 0, 30)), "2024-01-01 10:01");

	/* 02:00 and 14:00 daily. */
	CHECK_STR(next("0 2,14 * * *", at(2024, 1, 1, 3, 0, 0)), "2024-01-01 14:00");
	CHECK_STR(next("0 2,14 * * *", at(2024, 1, 1, 14, 0, 0)), "2024-01-02 02:00");
	CHECK_STR(next("0 2,14 * * *", at(2024, 1, 1, 1, 59, 59)), "2024-01-01 02:00");

	/* Month and year edges. */
	CHECK_STR(next("0 0 31 * *", at(2024, 4, 1, 0, 0, 0)), "2024-05-31 00:00");
	CHECK_STR(next("0 0 1 * *", at(2024, 12, 31, 23, 59, 0)), "2025-01-01 00:00");
	CHECK_STR(next("59 23 31 12 *", at(2024, 12, 31, 23, 59, 0)), "2025-12-31 23:59");
	CHECK_STR(next("0 0 30 * *", at(2024, 1, 30, 12, 0, 0)), "2024-03-30 00:00");

	/* Leap years: Feb 29 only exists every four years, and not in 2100. */
	CHECK_STR(next("0 0 29 2 *", at(2023, 1, 1, 0, 0, 0)), "2024-02-29 00:00");
	CHECK_STR(next("0 0 29 2 *", at(2024, 3, 1, 0, 0, 0)), "2028-02-29 00:00");
	CHECK_STR(next("0 0 29 2 *", at(2097, 1, 1, 0, 0, 0)), "2104-02-29 00:00");
	CHECK_STR(next("0 0 28 2 *", at(2024, 2, 28, 0, 0, 0)), "2025-02-28 00:00");

	/* Day-of-month OR day-of-week when both are restricted (Vixie cron). 2024-09-01 is a Sunday. */
	CHECK_STR(next("0 0 13 * 5", at(2024, 9, 1, 0, 0, 0)), "2024-09-06 00:00");   /* Friday first */
	CHECK_STR(next("0 0 13 * 5", at(2024, 9, 12, 0, 0, 0)), "2024-09-13 00:00");  /* then the 13th */
	CHECK_STR(next("0 0 13 * *", at(2024, 9, 1, 0, 0, 0)), "2024-09-13 00:00");
	CHECK_STR(next("0 0 * * 5", at(2024, 9, 1, 0, 0, 0)), "2024-09-06 00:00");
	/* A `*` start (even with a step) makes it an AND: days 1, 11, 21, 31 that are Mondays. */
	CHECK_STR(next("0 0 */10 * 1", at(2024, 9, 1, 0, 0, 0)), "2024-10-21 00:00");

	/* Weekdays: 7 and 0 are Sunday; names and name ranges; case does not matter. */
	CHECK_STR(next("0 12 * * 7", at(2024, 9, 2, 0, 0, 0)), "2024-09-08 12:00");
	CHECK_STR(next("0 12 * * 0", at(2024, 9, 2, 0, 0, 0)), "2024-09-08 12:00");
	CHECK_STR(next("30 6 * jan-mar Mon-Fri", at(2024, 3, 29, 7, 0, 0)), "2025-01-01 06:30");
	CHECK_STR(next("0 9 * * sat,sun", at(2024, 9, 2, 0, 0, 0)), "2024-09-07 09:00");
	CHECK_STR(next("0 9 * * 5-7", at(2024, 9, 2, 0, 0, 0)), "2024-09-06 09:00");

	/* Ranges with steps and a start with a step. */
	CHECK_INT(cron_parse("1-10/2 * * * *", &c, err, sizeof(err)), 0);
	CHECK(c.minute == ((1ull << 1) | (1ull << 3) | (1ull << 5) | (1ull << 7) | (1ull << 9)));
	CHECK_INT(cron_parse("5/15 * * * *", &c, err, sizeof(err)), 0);
	CHECK(c.minute == ((1ull << 5) | (1ull << 20) | (1ull << 35) | (1ull << 50)));
	CHECK_INT(cron_parse("0 0 * * *", &c, err, sizeof(err)), 0);
	CHECK(c.dom_star && c.dow_star);

	/* Shorthands and surrounding blanks. */
	CHECK_STR(next("@daily", at(2024, 1, 1, 0, 0, 0)), "2024-01-02 00:00");
	CHECK_STR(next("@hourly", at(2024, 1, 1, 0, 0, 0)), "2024-01-01 01:00");
	CHECK_STR(next("@weekly", at(2024, 9, 2, 0, 0, 0)), "2024-09-08 00:00");
	CHECK_STR(next("@yearly", at(2024, 9, 2, 0, 0, 0)), "2025-01-01 00:00");
	CHECK_STR(next("  0  2 * *\t* ", at(2024, 1, 1, 0, 0, 0)), "2024-01-01 02:00");

	/* The next run is always later than the given time, also from an odd second. */
	CHECK_INT(cron_parse("17 3 * * *", &c, err, sizeof(err)), 0);
	t = cron_next(&c, at(2024, 6, 1, 3, 17, 0));
	CHECK_STR(fmt(t), "2024-06-02 03:17");
	CHECK(cron_next(&c, at(2024, 6, 1, 3, 16, 59)) == at(2024, 6, 1, 3, 17, 0));

	/* Bad expressions, each with a message that says what is wrong and where. */
	bad("", "expected 5 fields");
	bad("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4");
	bad("* * * * * *", "got more than 5");
	bad("60 * * * *", "minute: 60 is out of range 0-59");
	bad("* 24 * * *", "hour: 24 is out of range 0-23");
	bad("* * 0 * *", "day-of-month: 0 is out of range 1-31");
	bad("* * * 13 *", "month: 13 is out of range 1-12");
	bad("* * * * 8", "day-of-week: 8 is out of range 0-7");
	bad("*/0 * * * *", "minute: step must be from 1 to 60");
	bad("*/ * * * *", "minute: a step needs a number");
	bad("5-1 * * * *", "minute: range 5-1 is backwards");
	bad("* * * foo *", "month: unknown name \"foo\"");
	bad("* * * * funday", "day-of-week: unknown name \"funday\"");
	bad("a * * * *", "minute: unknown name \"a\"");
	bad("1,,2 * * * *", "minute: empty list item");
	bad("1, * * * *", "minute: empty list item");
	bad("1-2-3 * * * *", "minute: unexpected \"-\"");
	bad("0 0 30 2 *", "no selected month has any of the selected days");
	bad("0 0 31 4,6,9,11 *", "no selected month");
	bad("@reboot", "unknown shorthand \"@reboot\"");
	bad("@daily extra", "unknown shorthand");
	bad("99999 * * * *", "minute: number too long");
	/* 0 0 30 2 1 is fine: the OR rule makes every Monday in February a match. */
	CHECK_STR(next("0 0 30 2 1", at(2024, 1, 1, 0, 0, 0)), "2024-02-05 00:00");

	return CHECK_DONE("test_cron");
}
