/* time.c: how wide the buckets of a series are (intervalMs, the unit asked for, maxDataPoints) and which
 * time zone names exist. The boundaries themselves are computed by PostgreSQL in the zone (see
 * GF_SERIES in src/db/stmt.c): it knows every zone's DST rules; here we only make sure no series can
 * have more points than Grafana asked for, whatever those rules do to a day's length. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "grafana/grafana.h"
#include "util/limits.h"
#include "util/log.h"

#define HOUR_MS  INT64_C(3600000)
#define DAY_MS   (24 * HOUR_MS)
/* Steps are bounded so a series of a few thousand years still plans; past that the range is refused. */
#define STEP_MAX 1000000

int64_t
grafana_unit_min_ms(enum grafana_unit u)
{
	switch (u) {
	case GRAFANA_U_HOUR:
		return HOUR_MS;
	case GRAFANA_U_DAY:
		return DAY_MS - HOUR_MS;            /* the day the clocks go forward */
	case GRAFANA_U_WEEK:
		return 7 * DAY_MS - HOUR_MS;
	case GRAFANA_U_MONTH:
		return 28 * DAY_MS - HOUR_MS;       /* a February with a DST change */
	default:
		return INT64_MAX;
	}
}

/* The usual length, to turn intervalMs into units. */
static int64_t
unit_nominal_ms(enum grafana_unit u)
{
	switch (u) {
	case GRAFANA_U_HOUR:
		return HOUR_MS;
	case GRAFANA_U_DAY:
		return DAY_MS;
	case GRAFANA_U_WEEK:
		return 7 * DAY_MS;
	case GRAFANA_U_MONTH:
		return 30 * DAY_MS;
	default:
		return INT64_MAX;
	}
}

/* At most how many buckets of step units [from, from + range) touches: the first bucket may begin
 * before from (buckets are aligned to local midnight, the week's first day, the month), hence + 1. */
static int64_t
count_bound(int64_t range, enum grafana_unit u, int step)
{
	int64_t w = grafana_unit_min_ms(u) * step;

	return (range + w - 1) / w + 1;
}

int
grafana_plan_buckets(int64_t from_ms, int64_t to_ms, enum grafana_unit want, int64_t interval_ms, long max_points,
    struct grafana_plan *out)
{
	static const struct { enum grafana_unit u; int step; } ladder[] = {
		{ GRAFANA_U_HOUR, 1 }, { GRAFANA_U_HOUR, 2 }, { GRAFANA_U_HOUR, 3 }, { GRAFANA_U_HOUR, 4 },
		{ GRAFANA_U_HOUR, 6 }, { GRAFANA_U_HOUR, 8 }, { GRAFANA_U_HOUR, 12 }, { GRAFANA_U_DAY, 1 },
		{ GRAFANA_U_DAY, 2 }, { GRAFANA_U_DAY, 3 }, { GRAFANA_U_WEEK, 1 }, { GRAFANA_U_WEEK, 2 },
		{ GRAFANA_U_MONTH, 1 }, { GRAFANA_U_MONTH, 2 }, { GRAFANA_U_MONTH, 3 }, { GRAFANA_U_MONTH, 4 },
		{ GRAFANA_U_MONTH, 6 }, { GRAFANA_U_MONTH, 12 },
	};
	int64_t range = to_ms - from_ms, step;
	size_t i;

	if (from_ms >= to_ms)
		return -1;
	if (max_points <= 0)
		max_points = LIMIT_GRAFANA_POINTS_DEFAULT;
	if (max_points > LIMIT_GRAFANA_POINTS_MAX)
		max_points = LIMIT_GRAFANA_POINTS_MAX;
	if (want == GRAFANA_U_ALL || max_points == 1) {
		out->unit = GRAFANA_U_ALL;
		out->step = 1;
		out->count = 1;
		return 0;
	}
	if (interval_ms <= 0)
		interval_ms = range / max_points;
	if (want == GRAFANA_U_AUTO) {
		for (i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++)
			if (unit_nominal_ms(ladder[i].u) * ladder[i].step >= interval_ms &&
			    count_bound(range, ladder[i].u, ladder[i].step) <= max_points)
				break;
		if (i < sizeof(ladder) / sizeof(ladder[0])) {
			out->unit = ladder[i].u;
			out->step = ladder[i].step;
			out->count = (int)count_bound(range, out->unit, out->step);
			return 0;
		}
		want = GRAFANA_U_MONTH;   /* longer than the ladder: whole years */
		interval_ms = interval_ms > 12 * unit_nominal_ms(GRAFANA_U_MONTH) ? interval_ms :
		    12 * unit_nominal_ms(GRAFANA_U_MONTH);
	}
	/* A multiple of the unit at least intervalMs wide... */
	step = (interval_ms + unit_nominal_ms(want) - 1) / unit_nominal_ms(want);
	if (step < 1)
		step = 1;
	if (want == GRAFANA_U_MONTH && step > 12)
		step = (step + 11) / 12 * 12;
	/* ...and wide enough that maxDataPoints holds. */
	if (max_points >= 2) {
		int64_t need = range / ((max_points - 1) * grafana_unit_min_ms(want));
		if (need > step)
			step = need;
	}
	if (step > STEP_MAX)
		return -1;
	while (count_bound(range, want, (int)step) > max_points) {
		if (++step > STEP_MAX)
			return -1;
	}
	out->unit = want;
	out->step = (int)step;
	out->count = (int)count_bound(range, want, (int)step);
	return 0;
}

int
grafana_tz_is_candidate(const char *tz)
{
	return tz != NULL && *tz != '\0' && strcasecmp(tz, "browser") != 0 && strcasecmp(tz, "default") != 0 &&
	    strlen(tz) < 128;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

void
grafana_tz_sort(const char **names, size_t n)
{
	qsort(names, n, sizeof(*names), cmp_name);
}

int
grafana_tz_find(const char *const *names, size_t n, const char *tz, const char **canon)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(tz, names[mid]);
		if (c == 0) {
			if (canon)
				*canon = names[mid];
			return 1;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* The zone names, read once per process and kept for its life (they change with a PostgreSQL upgrade,
 * which restarts us anyway). Guarded by tz_lock; never freed. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static const char    **tz_names;
static size_t          tz_count;

static int
tz_load(struct db *db)
{
	PGresult *res;
	const char **names = NULL;
	size_t n = 0;
	int rc = -1;

	if ((res = DB_EXEC0(db, STMT_GRAFANA_TZ_NAMES)) == NULL) {
		log_error("grafana", "reading pg_timezone_names: %s", db->err);
		return -1;
	}
	n = (size_t)PQntuples(res);
	if (n > LIMIT_GRAFANA_TZ_NAMES_MAX)
		n = LIMIT_GRAFANA_TZ_NAMES_MAX;
	if (n == 0 || (names = calloc(n, sizeof(*names))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((names[i] = strdup(PQgetvalue(res, (int)i, 0))) == NULL) {
			for (size_t j = 0; j < i; j++)
				free((void *)(uintptr_t)names[j]);
			free(names);
			goto out;
		}
	grafana_tz_sort(names, n);
	tz_names = names;
	tz_count = n;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int
grafana_tz_lookup(struct db *db, const char *tz, const char **canon)
{
	int rc;

	if (!grafana_tz_is_candidate(tz))
		return 0;
	pthread_mutex_lock(&tz_lock);
	if (tz_names == NULL && tz_load(db) != 0)
		rc = -1;
	else
		rc = grafana_tz_find(tz_names, tz_count, tz, canon);
	pthread_mutex_unlock(&tz_lock);
	return rc;
}
