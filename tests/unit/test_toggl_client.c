/* test_toggl_client.c: the pure parts of the Toggl client and sync: status classification, quota header
 * parsing, the 429 and 5xx backoffs, error sentences, X-Next-Row-Number, token checks, the window sizing
 * of the /me/time_entries walk, entry records for the bulk merge, Reports rows, and the reconcile cron
 * check. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/toggl.h"
#include "toggl/toggl.h"
#include "util/limits.h"
#include "util/log.h"

#include "check.h"

static void
test_classify(void)
{
	CHECK_INT(api_toggl_classify(200, 0), API_TOGGL_OK);
	CHECK_INT(api_toggl_classify(204, 1), API_TOGGL_OK);
	/* 402 means two things: the quota headers tell them apart. */
	CHECK_INT(api_toggl_classify(402, 1), API_TOGGL_QUOTA);
	CHECK_INT(api_toggl_classify(402, 0), API_TOGGL_PAID);
	CHECK_INT(api_toggl_classify(403, 0), API_TOGGL_AUTH);
	CHECK_INT(api_toggl_classify(401, 0), API_TOGGL_AUTH);
	CHECK_INT(api_toggl_classify(429, 0), API_TOGGL_RATE);
	CHECK_INT(api_toggl_classify(429, 1), API_TOGGL_RATE);
	CHECK_INT(api_toggl_classify(500, 0), API_TOGGL_UNAVAILABLE);
	CHECK_INT(api_toggl_classify(503, 1), API_TOGGL_UNAVAILABLE);
	CHECK_INT(api_toggl_classify(0, 0), API_TOGGL_UNAVAILABLE);
	CHECK_INT(api_toggl_classify(408, 0), API_TOGGL_UNAVAILABLE);
	CHECK_INT(api_toggl_classify(400, 0), API_TOGGL_REJECTED);
	CHECK_INT(api_toggl_classify(409, 0), API_TOGGL_REJECTED);
	CHECK_INT(api_toggl_classify(404, 0), API_TOGGL_NOT_FOUND);
	CHECK_INT(api_toggl_classify(410, 0), API_TOGGL_GONE);
	CHECK_INT(api_toggl_classify(302, 0), API_TOGGL_BAD_ANSWER);
	CHECK(API_TOGGL_TRANSIENT(API_TOGGL_QUOTA) && API_TOGGL_TRANSIENT(API_TOGGL_RATE) &&
	    API_TOGGL_TRANSIENT(API_TOGGL_UNAVAILABLE));
	CHECK(!API_TOGGL_TRANSIENT(API_TOGGL_PAID) && !API_TOGGL_TRANSIENT(API_TOGGL_AUTH) &&
	    !API_TOGGL_TRANSIENT(API_TOGGL_REJECTED));
	CHECK_STR(api_toggl_strerror(API_TOGGL_PAID), "not on this Toggl plan");
	CHECK_STR(api_toggl_strerror((enum api_toggl_res)99), "unknown");
}

static void
test_quota(void)
{
	long rem = 7, reset = 7;

	CHECK_INT(api_toggl_quota_parse("29", "3599", &rem, &reset), 0);
	CHECK_INT(rem, 29);
	CHECK_INT(reset, 3599);
	/* Remaining can go negative when the quota is not enforced. */
	CHECK_INT(api_toggl_quota_parse("-3", "0", &rem, &reset), 0);
	CHECK_INT(rem, -3);
	CHECK_INT(reset, 0);
	CHECK_INT(api_toggl_quota_parse(" 5 ", "\t10", &rem, &reset), 0);
	CHECK_INT(rem, 5);
	rem = reset = 7;
	CHECK_INT(api_toggl_quota_parse(NULL, "10", &rem, &reset), -1);
	CHECK_INT(api_toggl_quota_parse("5", NULL, &rem, &reset), -1);
	CHECK_INT(api_toggl_quota_parse("", "10", &rem, &reset), -1);
	CHECK_INT(api_toggl_quota_parse("5x", "10", &rem, &reset), -1);
	CHECK_INT(api_toggl_quota_parse("5", "-1", &rem, &reset), -1);
	CHECK_INT(api_toggl_quota_parse("5", "1.5", &rem, &reset), -1);
	CHECK_INT(api_toggl_quota_parse("99999999999999999999999", "1", &rem, &reset), -1);
	CHECK_INT(rem, 7);   /* untouched on failure */
	CHECK_INT(reset, 7);
}

static void
test_backoff(void)
{
	double d;

	/* 429: never below a minute, doubling, jitter only upwards. */
	CHECK(api_toggl_backoff_rate(1, 0) == LIMIT_TOGGL_RATE_BACKOFF_MIN_S);
	d = api_toggl_backoff_rate(1, 0.999);
	CHECK(d >= 60 && d < 90);
	CHECK(api_toggl_backoff_rate(2, 0) == 120);
	CHECK(api_toggl_backoff_rate(3, 0) == 240);
	CHECK(api_toggl_backoff_rate(0, 0) == 60);
	CHECK(api_toggl_backoff_rate(50, 0) == LIMIT_TOGGL_RATE_BACKOFF_MAX_S);
	d = api_toggl_backoff_rate(50, 1.5);
	CHECK(d >= LIMIT_TOGGL_RATE_BACKOFF_MAX_S && d < LIMIT_TOGGL_RATE_BACKOFF_MAX_S * 1.5);
	CHECK(api_toggl_backoff_rate(1, -1) == 60);
	CHECK(api_toggl_backoff_rate(1, NAN) == 60);
	for (int s = 1; s < 12; s++)
		CHECK(api_toggl_backoff_rate(s + 1, 0.5) >= api_toggl_backoff_rate(s, 0.5));
	/* 5xx: seconds, full jitter over the upper half, capped. */
	CHECK(api_toggl_backoff_5xx(1, 0) == 1);
	d = api_toggl_backoff_5xx(1, 0.999);
	CHECK(d >= 1 && d < 2);
	CHECK(api_toggl_backoff_5xx(2, 0) == 2);
	CHECK(api_toggl_backoff_5xx(40, 0) == LIMIT_TOGGL_5XX_BACKOFF_MAX_S / 2);
	d = api_toggl_backoff_5xx(40, 0.999);
	CHECK(d < LIMIT_TOGGL_5XX_BACKOFF_MAX_S);
}

#define ERRTEXT(lit) api_toggl_error_text((lit), strlen(lit), out, sizeof(out))

static void
test_error_text(void)
{
	char out[LIMIT_TOGGL_ERROR_TEXT * 4 + 8], big[2000];
	const char bad[] = "caf\xc3\xa9 \xff\xfe ok";

	ERRTEXT("Invalid start date");
	CHECK_STR(out, "Invalid start date");
	ERRTEXT("\"Incorrect username and/or password\"\n");
	CHECK_STR(out, "Incorrect username and/or password");
	ERRTEXT("{\"message\": \"quota\", \"code\": 402}");
	CHECK_STR(out, "quota");
	ERRTEXT("{\"error\": \"bad\"}");
	CHECK_STR(out, "bad");
	/* Control characters and runs of blanks become one space; no leading or trailing blanks. */
	ERRTEXT("  line one\r\n\tline\x01two  ");
	CHECK_STR(out, "line one line two");
	/* Invalid UTF-8 bytes are replaced, valid sequences kept. */
	api_toggl_error_text(bad, sizeof(bad) - 1, out, sizeof(out));
	CHECK_STR(out, "caf\xc3\xa9 ?? ok");
	/* A broken JSON object is shown as text. */
	ERRTEXT("{not json");
	CHECK_STR(out, "{not json");
	api_toggl_error_text(NULL, 0, out, sizeof(out));
	CHECK_STR(out, "");
	memset(big, 'x', sizeof(big));
	api_toggl_error_text(big, sizeof(big), out, sizeof(out));
	CHECK_INT(strlen(out), LIMIT_TOGGL_ERROR_TEXT);
	api_toggl_error_text(big, sizeof(big), out, 10);
	CHECK_INT(strlen(out), 9);
}

static void
test_next_row(void)
{
	CHECK_INT(api_toggl_next_row("1001"), 1001);
	CHECK_INT(api_toggl_next_row(" 51 "), 51);
	CHECK_INT(api_toggl_next_row(NULL), 0);
	CHECK_INT(api_toggl_next_row(""), 0);
	CHECK_INT(api_toggl_next_row("0"), 0);
	CHECK_INT(api_toggl_next_row("-4"), 0);
	CHECK_INT(api_toggl_next_row("12abc"), 0);
}

static void
test_init(void)
{
	struct api_toggl t;
	struct http_client *h = http_client_new();
	char longtok[LIMIT_TOGGL_TOKEN_MAX + 2];

	CHECK(h != NULL);
	CHECK_INT(api_toggl_init(&t, h, "https://api.track.toggl.com/", "0123abcd"), 0);
	CHECK_STR(t.base, "https://api.track.toggl.com");
	CHECK_STR(t.token, "0123abcd");
	api_toggl_free(&t);
	CHECK(t.token == NULL);
	CHECK_INT(api_toggl_init(&t, h, "https://x", ""), -1);
	CHECK_INT(api_toggl_init(&t, h, "https://x", "a:b"), -1);       /* would split Basic auth */
	CHECK_INT(api_toggl_init(&t, h, "https://x", "a b"), -1);
	CHECK_INT(api_toggl_init(&t, h, "https://x", "a\r\nX: y"), -1);
	memset(longtok, 'a', sizeof(longtok) - 1);
	longtok[sizeof(longtok) - 1] = '\0';
	CHECK_INT(api_toggl_init(&t, h, "https://x", longtok), -1);
	longtok[LIMIT_TOGGL_TOKEN_MAX] = '\0';
	CHECK_INT(api_toggl_init(&t, h, "https://x", longtok), 0);
	api_toggl_free(&t);
	http_client_free(h);
}

static void
test_windows(void)
{
	int64_t week = 7 * 86400, d;

	/* Aim at the target: 70 rows in a week -> grow, but at most 4x. */
	CHECK_INT(toggl_window_next(week, 70), 4 * week);
	CHECK_INT(toggl_window_next(week, LIMIT_TOGGL_WINDOW_TARGET), week);
	CHECK_INT(toggl_window_next(week, 2 * LIMIT_TOGGL_WINDOW_TARGET), week / 2);
	CHECK_INT(toggl_window_next(week, 999), week * LIMIT_TOGGL_WINDOW_TARGET / 999);
	CHECK_INT(toggl_window_next(week, 0), 4 * week);
	CHECK_INT(toggl_window_next(60 * 86400, 0), LIMIT_TOGGL_WINDOW_MAX_S);
	CHECK_INT(toggl_window_next(1, 999), LIMIT_TOGGL_WINDOW_MIN_S);
	CHECK_INT(toggl_window_next(0, 5), 4);
	d = toggl_window_next(week, 100000);
	CHECK_INT(d, week / 4);
	/* Splitting a full window halves it, down to the minimum. */
	CHECK_INT(toggl_window_split(week), week / 2);
	CHECK_INT(toggl_window_split(3), 1);
	CHECK_INT(toggl_window_split(2), 1);
	CHECK_INT(toggl_window_split(1), -1);
	CHECK_INT(toggl_window_split(0), -1);
	/* Splitting converges: a day with 2500 entries ends in windows under the cap. */
	d = 86400;
	for (int i = 0; i < 3; i++)
		d = toggl_window_split(d);
	CHECK_INT(d, 10800);
}

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fprintf(stderr, "bad test JSON: %s\n", e.text);
	return j;
}

static void
test_entry_record(void)
{
	char err[256];
	json_t *in, *rec;

	/* API v9 finished entry: the observed shape. */
	in = parse("{\"id\": 3000000001, \"workspace_id\": 7000001, \"project_id\": 200000001, \"task_id\": null, "
	    "\"billable\": true, \"start\": \"2024-12-15T20:20:50+00:00\", \"stop\": \"2024-12-15T21:20:50+00:00\", "
	    "\"duration\": 3600, \"description\": \"Code review\", \"tags\": [\"a\", \"b\"], \"tag_ids\": [16000001, "
	    "16000002], \"duronly\": true, \"at\": \"2024-12-15T20:20:50.283589Z\", \"server_deleted_at\": null, "
	    "\"user_id\": 9000001, \"uid\": 9000001, \"wid\": 7000001, \"pid\": 200000001}");
	rec = toggl_entry_record(in, 0, err, sizeof(err));
	CHECK(rec != NULL);
	CHECK_INT(json_integer_value(json_object_get(rec, "id")), 3000000001LL);
	CHECK_INT(json_integer_value(json_object_get(rec, "toggl_user_id")), 9000001);
	CHECK_INT(json_integer_value(json_object_get(rec, "workspace_id")), 7000001);
	CHECK_INT(json_integer_value(json_object_get(rec, "project_id")), 200000001);
	CHECK(json_is_null(json_object_get(rec, "task_id")));
	CHECK(json_is_true(json_object_get(rec, "billable")));
	CHECK_STR(json_string_value(json_object_get(rec, "stop")), "2024-12-15T21:20:50+00:00");
	CHECK_INT(json_integer_value(json_object_get(rec, "duration")), 3600);
	CHECK_INT(json_array_size(json_object_get(rec, "tags")), 2);
	CHECK_INT(json_array_size(json_object_get(rec, "tag_ids")), 2);
	CHECK_STR(json_string_value(json_object_get(rec, "at")), "2024-12-15T20:20:50.283589Z");
	CHECK(json_is_null(json_object_get(rec, "server_deleted_at")));
	json_decref(rec);
	json_decref(in);

	/* Running (API: -1), null description and tags, legacy ids, no user: the default owner. */
	in = parse("{\"id\": 5, \"wid\": 7, \"start\": \"2024-01-01T10:00:00Z\", \"stop\": null, \"duration\": -1, "
	    "\"description\": null, \"tags\": null, \"tag_ids\": null, \"at\": \"2024-01-01T10:00:00Z\"}");
	rec = toggl_entry_record(in, 42, err, sizeof(err));
	CHECK(rec != NULL);
	CHECK_INT(json_integer_value(json_object_get(rec, "toggl_user_id")), 42);
	CHECK(json_is_null(json_object_get(rec, "stop")));
	CHECK(json_integer_value(json_object_get(rec, "duration")) < 0);
	CHECK(json_is_null(json_object_get(rec, "description")));
	CHECK(json_is_array(json_object_get(rec, "tags")) && json_array_size(json_object_get(rec, "tags")) == 0);
	json_decref(rec);
	json_decref(in);

	/* Deleted (reconciliation with since): the tombstone time comes through. */
	in = parse("{\"id\": 6, \"workspace_id\": 7, \"user_id\": 1, \"start\": \"2024-01-01T10:00:00Z\", "
	    "\"duration\": 60, \"at\": \"2024-01-02T10:00:00Z\", \"server_deleted_at\": \"2024-01-02T10:00:00Z\"}");
	rec = toggl_entry_record(in, 0, err, sizeof(err));
	CHECK(rec != NULL);
	CHECK_STR(json_string_value(json_object_get(rec, "server_deleted_at")), "2024-01-02T10:00:00Z");
	/* No stop sent but a duration: the stop is derived. */
	CHECK_STR(json_string_value(json_object_get(rec, "stop")), "2024-01-01T10:01:00Z");
	/* No tags member at all: NULL, so the statement takes the names from toggl_tags. */
	CHECK(json_is_null(json_object_get(rec, "tags")));
	json_decref(rec);
	json_decref(in);

	/* Refused, with a reason. */
	in = parse("{\"id\": 7, \"user_id\": 1, \"start\": \"2024-01-01T10:00:00Z\", \"duration\": 5, "
	    "\"at\": \"2024-01-01T10:00:00Z\"}");
	CHECK(toggl_entry_record(in, 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "workspace_id") != NULL);
	json_decref(in);
	in = parse("{\"id\": 8, \"workspace_id\": 1, \"start\": \"yesterday\", \"duration\": 5, \"at\": \"2024-01-01T10:00:00Z\"}");
	CHECK(toggl_entry_record(in, 1, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "start") != NULL);
	json_decref(in);
	in = parse("{\"id\": 9, \"workspace_id\": 1, \"start\": \"2024-01-01T10:00:00Z\", \"duration\": 5}");
	CHECK(toggl_entry_record(in, 1, err, sizeof(err)) == NULL);
	json_decref(in);
	in = parse("{\"id\": 10, \"workspace_id\": 1, \"start\": \"2024-01-01T10:00:00Z\", \"duration\": 5, "
	    "\"at\": \"2024-01-01T10:00:00Z\"}");
	CHECK(toggl_entry_record(in, 0, err, sizeof(err)) == NULL);   /* no owner at all */
	json_decref(in);
	in = parse("[1, 2]");
	CHECK(toggl_entry_record(in, 1, err, sizeof(err)) == NULL);
	json_decref(in);
}

static void
test_report_row(void)
{
	char err[256];
	json_t *row, *e, *rec;

	row = parse("{\"user_id\": 9000001, \"username\": \"U\", \"project_id\": 200000001, \"task_id\": null, "
	    "\"billable\": false, \"description\": \"\", \"tag_ids\": [16000001], \"time_entries\": [{\"id\": 3000000007, "
	    "\"seconds\": 1800, \"start\": \"2024-09-02T07:00:00+02:00\", \"stop\": \"2024-09-02T07:30:00+02:00\", "
	    "\"at\": \"2024-09-02T05:35:00+00:00\"}], \"row_number\": 1}");
	e = toggl_report_row_entry(row, json_array_get(json_object_get(row, "time_entries"), 0), 7000001);
	CHECK(e != NULL);
	CHECK_INT(json_integer_value(json_object_get(e, "workspace_id")), 7000001);
	CHECK_INT(json_integer_value(json_object_get(e, "duration")), 1800);
	CHECK(json_object_get(e, "description") == NULL);   /* "" in reports: unknown, stored as NULL */
	CHECK(json_object_get(e, "tags") == NULL);
	rec = toggl_entry_record(e, 0, err, sizeof(err));
	CHECK(rec != NULL);
	CHECK_INT(json_integer_value(json_object_get(rec, "id")), 3000000007LL);
	CHECK_INT(json_integer_value(json_object_get(rec, "toggl_user_id")), 9000001);
	CHECK(json_is_null(json_object_get(rec, "tags")));
	CHECK_INT(json_array_size(json_object_get(rec, "tag_ids")), 1);
	json_decref(rec);
	json_decref(e);
	CHECK(toggl_report_row_entry(row, NULL, 1) == NULL);
	CHECK(toggl_report_row_entry(NULL, row, 1) == NULL);
	json_decref(row);
}

static void
test_cron_check(void)
{
	char err[256];

	CHECK_INT(toggl_reconcile_cron_check(TOGGL_RECONCILE_CRON_DEFAULT, err, sizeof(err)), 0);
	CHECK_INT(toggl_reconcile_cron_check("*/10 * * * *", err, sizeof(err)), 0);
	CHECK_INT(toggl_reconcile_cron_check("@hourly", err, sizeof(err)), 0);
	CHECK_INT(toggl_reconcile_cron_check("*/5 * * * *", err, sizeof(err)), -1);
	CHECK(strstr(err, "5 minutes apart") != NULL);
	CHECK_INT(toggl_reconcile_cron_check("0,1 3 * * *", err, sizeof(err)), -1);
	CHECK_INT(toggl_reconcile_cron_check("not a cron", err, sizeof(err)), -1);
	CHECK_INT(toggl_reconcile_cron_check(NULL, err, sizeof(err)), -1);
}

int
main(void)
{
	log_init("test_toggl_client", LOG_ERROR);
	test_classify();
	test_quota();
	test_backoff();
	test_error_text();
	test_next_row();
	test_init();
	test_windows();
	test_entry_record();
	test_report_row();
	test_cron_check();
	http_global_cleanup();
	return CHECK_DONE("test_toggl_client");
}
