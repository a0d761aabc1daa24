/* tbtime.c: RFC 3339 and calendar-date parsing/formatting with integer arithmetic only (no TZ, no locale). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "util/tbtime.h"

/* Read exactly n ASCII digits at s into *out. 0 on success, -1 if any is not a digit. */
static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && is_leap(y))
		return 29;
	return mdays[m - 1];
}

/* Howard Hinnant's days_from_civil: exact for the whole int64 year range we can reach. */
int64_t
tb_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
tb_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DD" at s (not necessarily the end of the string). 0 on success. */
static int
parse_ymd(const char *s, int *y, int *m, int *d)
{
	int yy, mm, dd;

	if (digits(s, 4, &yy) || s[4] != '-' || digits(s + 5, 2, &mm) || s[7] != '-' ||
	    digits(s + 8, 2, &dd))
		return -1;
	if (mm < 1 || mm > 12 || dd < 1 || dd > days_in_month(yy, mm))
		return -1;
	*y = yy;
	*m = mm;
	*d = dd;
	return 0;
}

int
tb_parse_date(const char *s, int *y, int *m, int *d)
{
	int yy, mm, dd;

	/* parse_ymd reads at most 10 bytes and stops at the first non-digit, so a short string is safe. */
	if (parse_ymd(s, &yy, &mm, &dd) != 0 || s[10] != '\0')
		return -1;
	*y = yy;
	*m = mm;
	*d = dd;
	return 0;
}

int
tb_parse_rfc3339(const char *s, int64_t *epoch_ms_out)
{
	int y, mo, d, h, mi, sec, oh, om, nfrac = 0, ms = 0, sign;
	int64_t secs;
	const char *p;

	if (parse_ymd(s, &y, &mo, &d) != 0)
		return -1;
	if ((s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' ||
	    digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (h > 23 || mi > 59 || sec > 59)
		return -1;
	p = s + 19;
	if (*p == '.') {
		/* Any number of fraction digits up to nanoseconds; keep the first three (milliseconds). */
		for (p++; *p >= '0' && *p <= '9'; p++, nfrac++) {
			if (nfrac >= 9)
				return -1;
			if (nfrac < 3)
				ms = ms * 10 + (*p - '0');
		}
		if (nfrac == 0)
			return -1;
		for (; nfrac < 3; nfrac++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		oh = om = 0;
		sign = 0;
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
			return -1;
		if (oh > 23 || om > 59)
			return -1;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;

	secs = tb_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + sec;
	/* Local time minus its offset is UTC: "+02:00" is two hours ahead of UTC. */
	secs -= (int64_t)sign * (oh * 3600 + om * 60);
	*epoch_ms_out = secs * 1000 + ms;
	return 0;
}

int
tb_format_rfc3339(int64_t epoch_s, char out[TB_RFC3339_SIZE])
{
	int64_t days, rem, y;
	int m, d;

	/* Floor division so that times before 1970 land on the right day. */
	days = epoch_s / 86400;
	rem = epoch_s % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	tb_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		out[0] = '\0';
		return -1;
	}
	snprintf(out, TB_RFC3339_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
	    (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60));
	return 0;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tb_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
tb_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

double
tb_backoff_s(double base, double max, int attempt, double u)
{
	double d = base;

	for (int i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	if (!(u >= 0))
		u = 0;
	if (u >= 1)
		u = 0.999999;
	return d / 2 + u * (d / 2);
}
