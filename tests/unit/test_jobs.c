/* test_jobs.c: the worker's pure parts (worker/jobs.c): the dispatch table, the retry backoff with its
 * jitter bounds, and job_error() keeping last_error valid UTF-8 within LIMIT_JOB_ERROR_MAX. The runner
 * itself needs PostgreSQL: tests/e2e/test_worker.py covers it. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "util/log.h"
#include "worker/worker.h"

/* Each byte sequence is valid UTF-8 (the rules PostgreSQL applies to text). */
static int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : *p >= 0xc2 && *p <= 0xdf ? 1 : *p >= 0xe0 && *p <= 0xef ? 2 :
		    *p >= 0xf0 && *p <= 0xf4 ? 3 : -1;
		if (n < 0)
			return 0;
		if (n >= 2 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] > 0x9f) ||
		    (*p == 0xf0 && p[1] < 0x90) || (*p == 0xf4 && p[1] > 0x8f)))
			return 0;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += n + 1;
	}
	return 1;
}

int
main(void)
{
	static char big[3 * LIMIT_JOB_ERROR_MAX];
	const struct job_kind *k;
	struct job job;
	double d;

	log_init("test_jobs", LOG_ERROR);

	/* The table: known kinds found, unknown ones not, every row complete and unique. */
	k = job_kind_find("diag.sleep");
	CHECK(k != NULL && k->fn == job_diag_sleep);
	k = job_kind_find("maintenance.purge");
	CHECK(k != NULL && k->fn == job_maintenance_purge && k->lease_s > 0);
	CHECK(job_kind_find("nope") == NULL);
	CHECK(job_kind_find("") == NULL);
	CHECK(job_kind_find("diag.sleep ") == NULL);
	CHECK(job_kind_count() >= 2);
	CHECK(job_kind_at(job_kind_count()) == NULL);
	for (size_t i = 0; i < job_kind_count(); i++) {
		k = job_kind_at(i);
		CHECK(k->kind != NULL && strchr(k->kind, '.') != NULL && k->fn != NULL && k->lease_s >= 0);
		for (size_t j = i + 1; j < job_kind_count(); j++)
			CHECK(strcmp(k->kind, job_kind_at(j)->kind) != 0);
	}

	/* Backoff: base doubling per attempt, capped, jitter within [d/2, d). */
	CHECK(job_backoff_s(1, 0.0) == LIMIT_JOB_BACKOFF_BASE_S / 2.0);
	d = job_backoff_s(1, 0.999);
	CHECK(d < LIMIT_JOB_BACKOFF_BASE_S && d > LIMIT_JOB_BACKOFF_BASE_S * 0.99);
	CHECK(job_backoff_s(2, 0.0) == LIMIT_JOB_BACKOFF_BASE_S);
	CHECK(job_backoff_s(3, 0.0) == 2.0 * LIMIT_JOB_BACKOFF_BASE_S);
	CHECK(job_backoff_s(4, 0.5) == 0.75 * 8 * LIMIT_JOB_BACKOFF_BASE_S);
	for (int a = 1; a < 100; a++) {
		double lo = job_backoff_s(a, 0.0), hi = job_backoff_s(a, 1.0);
		CHECK(lo >= LIMIT_JOB_BACKOFF_BASE_S / 2.0 && hi <= LIMIT_JOB_BACKOFF_MAX_S);
		CHECK(lo <= hi && hi <= 2 * lo + 0.001);
		if (a > 1)
			CHECK(job_backoff_s(a, 0.0) >= job_backoff_s(a - 1, 0.0));
	}
	CHECK(job_backoff_s(60, 0.0) == LIMIT_JOB_BACKOFF_MAX_S / 2.0);
	CHECK(job_backoff_s(0, 0.0) == LIMIT_JOB_BACKOFF_BASE_S / 2.0);
	CHECK(job_backoff_s(2, -3) == job_backoff_s(2, 0));

	/* job_error: the message, made valid UTF-8 and kept within the limit. */
	memset(&job, 0, sizeof(job));
	job.kind = "diag.sleep";
	snprintf(job.ctx, sizeof(job.ctx), "job 1");
	job_error(&job, "upstream said %d: %s", 503, "busy");
	CHECK_STR(job.err, "upstream said 503: busy");
	job_error(&job, "bad bytes: %s", "a\xff" "b\xc3(c\xed\xa0\x80" "d\xe2\x82\xac");
	CHECK_STR(job.err, "bad bytes: a?b?(c???d\xe2\x82\xac");
	CHECK(utf8_valid(job.err));
	/* 3-byte characters cut by the buffer end: the partial one must not survive. */
	for (size_t i = 0; i + 3 < sizeof(big); i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	job_error(&job, "x%s", big);
	CHECK(strlen(job.err) < LIMIT_JOB_ERROR_MAX);
	CHECK(strlen(job.err) > LIMIT_JOB_ERROR_MAX - 8);
	CHECK(utf8_valid(job.err));

	return CHECK_DONE("test_jobs");
}
