/* test_grafana_time.c: bucket planning (src/grafana/time.c) against a reference that walks real calendar
 * boundaries, the zone-name lookup, and the range parser's time formats. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "grafana/grafana.h"
#include "util/limits.h"
#include "util/tbtime.h"

#define HOUR INT64_C(3600000)
#define DAY  (24 * HOUR)

/* ms of 00:00 UTC on y-m-d. */
static int64_t
at(int y, int m, int d)
{
	return tb_days_from_civil(y, m, d) * DAY;
}

/* How many buckets the statement would make for [from, to) in UTC, with its alignment rules: hours from
 * midnight in multiples of step, days from the first day, weeks from the week's first day (Monday here),
 * months from the year's start in multiples of step. A simple walk over real calendar dates. */
static int64_t
real_count(int64_t from, int64_t to, const struct grafana_plan *p)
{
	int64_t day = from / DAY, b, n = 0, y;
	int m, d;

	tb_civil_from_days(day, &y, &m, &d);
	switch (p->unit) {
	case GRAFANA_U_ALL:
		return 1;
	case GRAFANA_U_HOUR:
		b = day * DAY + (from % DAY) / HOUR / p->step * p->step * HOUR;
		for (; b < to; b += p->step * HOUR)
			n++;
		return n;
	case GRAFANA_U_DAY:
	case GRAFANA_U_WEEK: {
		int64_t w = p->unit == GRAFANA_U_DAY ? 1 : 7;
		int dow = (int)(((day + 4) % 7 + 7) % 7);   /* 1970-01-01 was a Thursday */
		if (w == 7)
			day -= (dow + 6) % 7;                  /* back to Monday */
		for (b = day * DAY; b < to; b += w * p->step * DAY)
			n++;
		return n;
	}
	case GRAFANA_U_MONTH: {
		int mm = (m - 1) / p->step * p->step;      /* months since January */
		for (;;) {
			int64_t yy = y + mm / 12;
			if (at((int)yy, mm % 12 + 1, 1) >= to)
				return n;
			n++;
			mm += p->step;
		}
	}
	default:
		return -1;
	}
}

static void
check_plan(int64_t from, int64_t to, enum grafana_unit want, int64_t interval, long maxp)
{
	struct grafana_plan p;
	long cap = maxp <= 0 ? LIMIT_GRAFANA_POINTS_DEFAULT : maxp > LIMIT_GRAFANA_POINTS_MAX ?
	    LIMIT_GRAFANA_POINTS_MAX : maxp;

	if (grafana_plan_buckets(from, to, want, interval, maxp, &p) != 0) {
		CHECK(!"plan failed");
		return;
	}
	CHECK(p.step >= 1);
	CHECK(p.count >= 1);
	CHECK(p.count <= cap);
	CHECK(real_count(from, to, &p) <= p.count);
	if (want != GRAFANA_U_AUTO && want != GRAFANA_U_ALL && cap > 1)
		CHECK(p.unit == want);
}

int
main(void)
{
	struct grafana_plan p;
	static const char *names[] = { "UTC", "Europe/Prague", "America/New_York", "Etc/GMT+5", "Asia/Kolkata" };
	const char *canon = NULL;
	json_t *j;
	int64_t ms;

	/* A week at Grafana's 10m interval: hourly buckets, 7 x 24 + 1 of them at most. */
	CHECK_INT(grafana_plan_buckets(at(2024, 3, 1), at(2024, 3, 8), GRAFANA_U_AUTO, 600000, 1000, &p), 0);
	CHECK_INT(p.unit, GRAFANA_U_HOUR);
	CHECK_INT(p.step, 1);
	CHECK_INT(p.count, 169);

	/* A year with a daily minimum interval: days, counted as 23-hour days for the bound. */
	CHECK_INT(grafana_plan_buckets(at(2024, 1, 1), at(2025, 1, 1), GRAFANA_U_AUTO, DAY, 1000, &p), 0);
	CHECK_INT(p.unit, GRAFANA_U_DAY);
	CHECK_INT(p.step, 1);
	CHECK_INT(p.count, (366 * 24 + 22) / 23 + 1);

	/* intervalMs widens an explicit unit to a multiple of it: 36 hours of "day" is 2 days. */
	CHECK_INT(grafana_plan_buckets(at(2024, 1, 1), at(2024, 2, 1), GRAFANA_U_DAY, 36 * HOUR, 1000, &p), 0);
	CHECK_INT(p.unit, GRAFANA_U_DAY);
	CHECK_INT(p.step, 2);

	/* ...and maxDataPoints widens it further: 30 days in at most 10 points is 4-day buckets (31.3 / 4 → 8,
	 * plus one for the partial first). */
	CHECK_INT(grafana_plan_buckets(at(2024, 4, 1), at(2024, 5, 1), GRAFANA_U_DAY, 600000, 10, &p), 0);
	CHECK_INT(p.step, 4);
	CHECK(p.count <= 10);

	/* Ten years in 100 points: two-month buckets. */
	CHECK_INT(grafana_plan_buckets(at(2015, 1, 1), at(2025, 1, 1), GRAFANA_U_AUTO, 0, 100, &p), 0);
	CHECK_INT(p.unit, GRAFANA_U_MONTH);
	CHECK_INT(p.step, 2);

	/* One point asked for, or the whole range: one bucket. */
	CHECK_INT(grafana_plan_buckets(at(2024, 1, 1), at(2024, 2, 1), GRAFANA_U_DAY, 0, 1, &p), 0);
	CHECK_INT(p.unit, GRAFANA_U_ALL);
	CHECK_INT(p.count, 1);
	CHECK_INT(grafana_plan_buckets(at(2024, 1, 1), at(2024, 2, 1), GRAFANA_U_ALL, 0, 500, &p), 0);
	CHECK_INT(p.unit, GRAFANA_U_ALL);

	/* No maxDataPoints: the default; absurd ones: the cap. */
	CHECK_INT(grafana_plan_buckets(at(2020, 1, 1), at(2024, 1, 1), GRAFANA_U_HOUR, 0, 0, &p), 0);
	CHECK(p.count <= LIMIT_GRAFANA_POINTS_DEFAULT);
	CHECK_INT(grafana_plan_buckets(at(2020, 1, 1), at(2024, 1, 1), GRAFANA_U_HOUR, 1, 100000000, &p), 0);
	CHECK(p.count <= LIMIT_GRAFANA_POINTS_MAX);

	/* Empty and reversed ranges are refused. */
	CHECK_INT(grafana_plan_buckets(at(2024, 1, 1), at(2024, 1, 1), GRAFANA_U_AUTO, 0, 100, &p), -1);
	CHECK_INT(grafana_plan_buckets(at(2024, 1, 2), at(2024, 1, 1), GRAFANA_U_AUTO, 0, 100, &p), -1);

	/* Shortest unit lengths: the DST day is 23 hours. */
	CHECK_INT(grafana_unit_min_ms(GRAFANA_U_DAY), 23 * HOUR);
	CHECK_INT(grafana_unit_min_ms(GRAFANA_U_HOUR), HOUR);
	CHECK(grafana_unit_min_ms(GRAFANA_U_MONTH) < 28 * DAY);

	/* The bound holds for every unit and many ranges, against real calendar boundaries (February,
	 * leap years, ranges starting mid-bucket). */
	srand(5);
	for (int i = 0; i < 3000; i++) {
		int64_t from = at(2000, 1, 1) + (int64_t)(rand() % 9000) * DAY + (rand() % 86400) * INT64_C(1000);
		int64_t to = from + 1 + (int64_t)(rand() % 2000) * (rand() % 3 ? HOUR : DAY);
		enum grafana_unit u = (enum grafana_unit)(rand() % GRAFANA_U__MAX);
		int64_t interval = (int64_t)(rand() % 4) * (rand() % 200) * HOUR / 3;
		long maxp = rand() % 5 == 0 ? 0 : 1 + rand() % 1200;
		check_plan(from, to, u, interval, maxp);
	}

	/* Zone names: PostgreSQL's spelling found case-insensitively; Grafana's "browser" is no zone. */
	grafana_tz_sort(names, sizeof(names) / sizeof(names[0]));
	CHECK_INT(grafana_tz_find(names, 5, "utc", &canon), 1);
	CHECK_STR(canon, "UTC");
	CHECK_INT(grafana_tz_find(names, 5, "europe/prague", &canon), 1);
	CHECK_STR(canon, "Europe/Prague");
	CHECK_INT(grafana_tz_find(names, 5, "Etc/GMT+5", &canon), 1);
	CHECK_INT(grafana_tz_find(names, 5, "Mars/Base", &canon), 0);
	CHECK_INT(grafana_tz_find(names, 5, "", &canon), 0);
	CHECK_INT(grafana_tz_is_candidate("browser"), 0);
	CHECK_INT(grafana_tz_is_candidate("Browser"), 0);
	CHECK_INT(grafana_tz_is_candidate(""), 0);
	CHECK_INT(grafana_tz_is_candidate(NULL), 0);
	CHECK_INT(grafana_tz_is_candidate("utc"), 1);
	CHECK_INT(grafana_tz_is_candidate("Europe/Prague"), 1);

	/* Range times: ISO text with milliseconds, epoch ms as a number or as digits; relative text is not
	 * a time (Grafana resolves "now-7d" itself and sends range.from as ISO). */
	j = json_string("2024-01-01T00:00:00.000Z");
	CHECK_INT(grafana_parse_time(j, &ms), 0);
	CHECK_INT(ms, INT64_C(1704067200000));
	json_decref(j);
	j = json_integer(INT64_C(1704067200123));
	CHECK_INT(grafana_parse_time(j, &ms), 0);
	CHECK_INT(ms, INT64_C(1704067200123));
	json_decref(j);
	j = json_string("1704067200000");
	CHECK_INT(grafana_parse_time(j, &ms), 0);
	CHECK_INT(ms, INT64_C(1704067200000));
	json_decref(j);
	j = json_string("now-7d");
	CHECK_INT(grafana_parse_time(j, &ms), -1);
	json_decref(j);
	j = json_true();
	CHECK_INT(grafana_parse_time(j, &ms), -1);
	json_decref(j);

	return CHECK_DONE("test_grafana_time");
}
