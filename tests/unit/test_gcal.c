/* test_gcal.c: the pure part of Google Calendar out: event ids (base32hex, deterministic, reversible), the
 * colour mapping and its rule precedence, the event bodies (checked against the Event schema of the stored
 * discovery document, as the fake Google and Google itself do), what validation compares, and the Google
 * client's classification of answers and parsing of token responses. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "check.h"
#include "api/google.h"
#include "gcal/gcal.h"
#include "util/tbtime.h"

/* ---- a small validator of request bodies against discovery schemas (like tests/fakes/fake_google.py) ---- */

static json_t *schemas;

static int
validate(json_t *value, json_t *schema, const char *path)
{
	const char *type, *fmt;
	json_t *ref = json_object_get(schema, "$ref"), *props, *addl, *v;
	const char *key;
	int64_t ms;

	if (json_is_null(value))
		return 1;   /* null means unset (or cleared, in a patch) */
	if (json_is_string(ref))
		schema = json_object_get(schemas, json_string_value(ref));
	type = json_string_value(json_object_get(schema, "type"));
	if (type == NULL || strcmp(type, "any") == 0)
		return 1;
	if (strcmp(type, "object") == 0) {
		if (!json_is_object(value)) {
			fprintf(stderr, "%s: not an object\n", path);
			return 0;
		}
		props = json_object_get(schema, "properties");
		addl = json_object_get(schema, "additionalProperties");
		json_object_foreach(value, key, v) {
			json_t *sub = props ? json_object_get(props, key) : NULL;
			if (sub == NULL)
				sub = addl;
			if (sub == NULL) {
				fprintf(stderr, "%s: unknown name \"%s\"\n", path, key);
				return 0;
			}
			if (!validate(v, sub, key))
				return 0;
		}
		return 1;
	}
	if (strcmp(type, "array") == 0) {
		size_t i;
		if (!json_is_array(value))
			return 0;
		json_array_foreach(value, i, v)
			if (!validate(v, json_object_get(schema, "items"), path))
				return 0;
		return 1;
	}
	if (strcmp(type, "string") == 0) {
		if (!json_is_string(value)) {
			fprintf(stderr, "%s: not a string\n", path);
			return 0;
		}
		fmt = json_string_value(json_object_get(schema, "format"));
		if (fmt && strcmp(fmt, "date-time") == 0 && tb_parse_rfc3339(json_string_value(value), &ms) != 0) {
			fprintf(stderr, "%s: not RFC 3339: %s\n", path, json_string_value(value));
			return 0;
		}
		return 1;
	}
	if (strcmp(type, "integer") == 0)
		return json_is_integer(value);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(value);
	if (strcmp(type, "number") == 0)
		return json_is_number(value);
	return 1;
}

static json_t *
load_discovery(void)
{
	const char *env = getenv("TB_DISCOVERY"), *srcdir = getenv("srcdir");
	char path[1024];
	json_error_t err;
	json_t *d;
	struct stat st;

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (srcdir && *srcdir && srcdir[0] == '/')
		snprintf(path, sizeof(path), "%s/../shared/fixtures/google-calendar-v3-discovery.json", srcdir);
	else
		snprintf(path, sizeof(path), "%s/google-calendar-v3-discovery.json", TB_FIXTURES_DIR);
	if (stat(path, &st) != 0) {
		printf("test_gcal: no discovery document at %s (set TB_DISCOVERY): schema checks skipped\n", path);
		return NULL;
	}
	if ((d = json_load_file(path, 0, &err)) == NULL)
		fprintf(stderr, "%s: %s\n", path, err.text);
	CHECK(d != NULL);
	return d;
}

static int
event_valid(json_t *ev)
{
	json_t *s = json_object_get(schemas, "Event");

	return schemas == NULL || validate(ev, s, "resource");
}

/* ---- event ids ------------------------------------------------------------------------------------ */

static void
test_event_ids(void)
{
	char id[GCAL_EVENT_ID_MAX], other[GCAL_EVENT_ID_MAX];
	const int64_t ids[] = { 1, 9, 10, 42, 3000000001LL, 4294967296LL, 9223372036854775807LL };

	CHECK_INT(gcal_event_id(1, id), 0);
	CHECK_STR(id, "ehh32");                              /* base32hex("tb1"), RFC 4648, lowercase */
	CHECK_INT(gcal_event_id(3000000001LL, id), 0);
	CHECK_STR(id, "ehh36c1g60o30c1g60og");
	CHECK_INT(gcal_event_id(9223372036854775807LL, id), 0);
	CHECK_STR(id, "ehh3ichi6cpjechg6cr3gd9k6srjae1g6s");
	CHECK_INT(gcal_event_id(0, id), -1);
	CHECK_INT(gcal_event_id(-5, id), -1);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		CHECK_INT(gcal_event_id(ids[i], id), 0);
		CHECK(strlen(id) >= 5 && strlen(id) <= 1024);
		CHECK(strspn(id, "0123456789abcdefghijklmnopqrstuv") == strlen(id));
		CHECK_INT(gcal_event_id_decode(id), ids[i]);
		/* deterministic */
		CHECK_INT(gcal_event_id(ids[i], other), 0);
		CHECK_STR(other, id);
	}
	CHECK_INT(gcal_event_id(12, id), 0);
	CHECK_INT(gcal_event_id(21, other), 0);
	CHECK(strcmp(id, other) != 0);
	/* not ours */
	CHECK_INT(gcal_event_id_decode(""), -1);
	CHECK_INT(gcal_event_id_decode("ehh3"), -1);
	CHECK_INT(gcal_event_id_decode("ehh33"), -1);          /* non-zero padding bits */
	CHECK_INT(gcal_event_id_decode("xyz12"), -1);
	CHECK_INT(gcal_event_id_decode("c5h66p35"), -1);       /* base32hex("abcde"): no "tb" */
}

/* ---- colours -------------------------------------------------------------------------------------- */

static void
test_colors(void)
{
	struct gcal_entry e;

	for (int i = 1; i <= 11; i++)
		CHECK_INT(gcal_color_nearest(gcal_event_colors[i]), i);
	/* Toggl's project palette onto Google's event palette, by hue first. */
	CHECK_INT(gcal_color_nearest("#0b83d9"), 9);   /* blue → blueberry */
	CHECK_INT(gcal_color_nearest("#9e5bd9"), 3);   /* purple → grape */
	CHECK_INT(gcal_color_nearest("#990099"), 3);
	CHECK_INT(gcal_color_nearest("#d94182"), 4);   /* pink → flamingo */
	CHECK_INT(gcal_color_nearest("#bf7000"), 6);   /* brown-orange → tangerine */
	CHECK_INT(gcal_color_nearest("#2da608"), 10);  /* green → basil */
	CHECK_INT(gcal_color_nearest("#06a893"), 2);   /* teal → sage */
	CHECK_INT(gcal_color_nearest("#c7af14"), 5);   /* mustard → banana */
	CHECK_INT(gcal_color_nearest("#d92b2b"), 11);  /* red → tomato */
	CHECK_INT(gcal_color_nearest("#525266"), 8);   /* dark grey → graphite */
	CHECK_INT(gcal_color_nearest("#000000"), 8);
	CHECK_INT(gcal_color_nearest("#FFF"), 8);      /* #rgb and upper case */
	CHECK_INT(gcal_color_nearest("#DC2127"), 11);
	/* not colours */
	CHECK_INT(gcal_color_nearest(NULL), 0);
	CHECK_INT(gcal_color_nearest(""), 0);
	CHECK_INT(gcal_color_nearest("0b83d9"), 0);
	CHECK_INT(gcal_color_nearest("#0b83d"), 0);
	CHECK_INT(gcal_color_nearest("#0b83dz"), 0);
	CHECK_INT(gcal_color_nearest("#0b83d9ff"), 0);

	/* precedence: running, tag, project, client, workspace, then the project's colour, else none */
	memset(&e, 0, sizeof(e));
	e.id = 1;
	CHECK_INT(gcal_color_pick(&e), 0);
	e.project_id = 7;
	e.project_color = "#2da608";
	CHECK_INT(gcal_color_pick(&e), 10);
	e.rule_workspace = 1;
	CHECK_INT(gcal_color_pick(&e), 1);
	e.rule_client = 2;
	CHECK_INT(gcal_color_pick(&e), 2);
	e.rule_project = 3;
	CHECK_INT(gcal_color_pick(&e), 3);
	e.rule_tag = 4;
	CHECK_INT(gcal_color_pick(&e), 4);
	e.rule_tag = 12;                               /* out of range: ignored */
	CHECK_INT(gcal_color_pick(&e), 3);
	e.running = 1;
	CHECK_INT(gcal_color_pick(&e), 8);
	memset(&e, 0, sizeof(e));
	e.project_id = 0;
	e.project_color = "#2da608";                   /* a colour without a project counts for nothing */
	CHECK_INT(gcal_color_pick(&e), 0);
}

/* ---- event bodies --------------------------------------------------------------------------------- */

static int64_t
edt_ms(json_t *ev, const char *which)
{
	int64_t ms = -1;
	const char *s = json_string_value(json_object_get(json_object_get(ev, which), "dateTime"));

	if (s == NULL || tb_parse_rfc3339(s, &ms) != 0)
		return -1;
	return ms;
}

static void
test_event_build(void)
{
	struct gcal_entry e;
	json_t *ins, *patch, *priv;
	const char *desc;
	char id[GCAL_EVENT_ID_MAX];
	int64_t start = 1718000000000LL, now = start + 10 * 1000;

	memset(&e, 0, sizeof(e));
	e.id = 3000000001LL;
	e.version = 4;
	e.workspace_id = 777;
	e.project_id = 55;
	e.client_id = 66;
	e.toggl_user_id = 99;
	e.description = "Write <the> report & \"more\"";
	e.project_name = "Apollo";
	e.project_color = "#0b83d9";
	e.client_name = "NASA";
	e.tags = "deep work, q3";
	e.billable = 1;
	e.start_ms = start;
	e.stop_ms = start + 3723 * 1000;   /* 1:02:03 */

	ins = gcal_event_build(&e, now, GCAL_BODY_INSERT);
	patch = gcal_event_build(&e, now, GCAL_BODY_PATCH);
	CHECK(ins != NULL && patch != NULL);
	CHECK(event_valid(ins));
	CHECK(event_valid(patch));
	(void)gcal_event_id(e.id, id);
	CHECK_STR(json_string_value(json_object_get(ins, "id")), id);
	CHECK(json_object_get(patch, "id") == NULL);
	CHECK_STR(json_string_value(json_object_get(ins, "status")), "confirmed");
	CHECK_STR(json_string_value(json_object_get(patch, "status")), "confirmed");
	CHECK_STR(json_string_value(json_object_get(ins, "summary")), "Write <the> report & \"more\"");
	CHECK_STR(json_string_value(json_object_get(json_object_get(ins, "start"), "dateTime")),
	    "2024-06-10T06:13:20Z");
	CHECK_INT(edt_ms(ins, "end") - edt_ms(ins, "start"), 3723 * 1000);
	CHECK_STR(json_string_value(json_object_get(ins, "colorId")), "9");
	desc = json_string_value(json_object_get(ins, "description"));
	CHECK(desc != NULL && strstr(desc, "Project: Apollo\n") != NULL);
	CHECK(desc != NULL && strstr(desc, "Client: NASA\n") != NULL);
	CHECK(desc != NULL && strstr(desc, "Tags: deep work, q3\n") != NULL);
	CHECK(desc != NULL && strstr(desc, "Billable: yes\n") != NULL);
	CHECK(desc != NULL && strstr(desc, "Duration: 1:02:03\n") != NULL);
	CHECK(desc != NULL && strstr(desc, "https://track.toggl.com/timer?workspace_id=777&time_entry_id=3000000001")
	    != NULL);
	priv = json_object_get(json_object_get(ins, "extendedProperties"), "private");
	CHECK_STR(json_string_value(json_object_get(priv, "toggl_entry_id")), "3000000001");
	CHECK_STR(json_string_value(json_object_get(priv, "toggl_workspace_id")), "777");
	CHECK_STR(json_string_value(json_object_get(priv, "toggl_project_id")), "55");
	CHECK_STR(json_string_value(json_object_get(priv, "toggl_user_id")), "99");
	CHECK_STR(json_string_value(json_object_get(json_object_get(ins, "source"), "url")),
	    "https://track.toggl.com/timer?workspace_id=777&time_entry_id=3000000001");
	CHECK_INT(gcal_event_compare(&e, ins, now, NULL, 0), 0);
	if (schemas != NULL) {
		/* the validator itself refuses what Google refuses */
		json_object_set_new(patch, "colour", json_string("9"));
		CHECK(!event_valid(patch));
		json_object_del(patch, "colour");
		json_object_set_new(patch, "start", json_pack("{s:s}", "dateTime", "2024-06-10 06:13:20"));
		CHECK(!event_valid(patch));
		json_object_set_new(patch, "summary", json_integer(5));
		CHECK(!event_valid(patch));
	}
	json_decref(ins);
	json_decref(patch);

	/* no description, no project: the summary says so, a patch clears the colour with null */
	e.description = "   ";
	e.project_id = 0;
	e.client_id = 0;
	e.tags = "";
	e.billable = 0;
	ins = gcal_event_build(&e, now, GCAL_BODY_INSERT);
	patch = gcal_event_build(&e, now, GCAL_BODY_PATCH);
	CHECK(event_valid(ins) && event_valid(patch));
	CHECK_STR(json_string_value(json_object_get(ins, "summary")), "(No description)");
	CHECK(json_object_get(ins, "colorId") == NULL);
	CHECK(json_is_null(json_object_get(patch, "colorId")));
	priv = json_object_get(json_object_get(patch, "extendedProperties"), "private");
	CHECK_STR(json_string_value(json_object_get(priv, "toggl_project_id")), "");
	priv = json_object_get(json_object_get(ins, "extendedProperties"), "private");
	CHECK_STR(json_string_value(json_object_get(priv, "toggl_project_id")), "");
	desc = json_string_value(json_object_get(ins, "description"));
	CHECK(desc != NULL && strstr(desc, "Project: (none)\nClient: (none)\nTags: (none)\nBillable: no\n") != NULL);
	json_decref(ins);
	json_decref(patch);
	e.description = NULL;
	ins = gcal_event_build(&e, now, GCAL_BODY_INSERT);
	CHECK_STR(json_string_value(json_object_get(ins, "summary")), "(No description)");
	json_decref(ins);

	/* running: grey, from the start to now, at least a minute */
	e.running = 1;
	e.description = "on it";
	ins = gcal_event_build(&e, now, GCAL_BODY_INSERT);
	CHECK(event_valid(ins));
	CHECK_STR(json_string_value(json_object_get(ins, "colorId")), "8");
	CHECK_INT(edt_ms(ins, "end") - edt_ms(ins, "start"), 60 * 1000);
	desc = json_string_value(json_object_get(ins, "description"));
	CHECK(desc != NULL && strstr(desc, "Duration: running\n") != NULL);
	json_decref(ins);
	ins = gcal_event_build(&e, start + 3600 * 1000, GCAL_BODY_INSERT);
	CHECK_INT(edt_ms(ins, "end") - edt_ms(ins, "start"), 3600 * 1000);
	/* a running entry's end moves: validation accepts any end a minute or more after the start */
	CHECK_INT(gcal_event_compare(&e, ins, start + 7200 * 1000, NULL, 0), 0);
	json_decref(ins);
	CHECK_INT(gcal_event_end_ms(&e, start - 5000), start + 60 * 1000);

	/* a long description is cut on a character boundary */
	{
		char *big = malloc(3000);
		memset(big, 0, 3000);
		for (int i = 0; i + 2 < 2999; i += 2)
			memcpy(big + i, "\xc3\xa9", 2);   /* é */
		e.running = 0;
		e.description = big;
		ins = gcal_event_build(&e, now, GCAL_BODY_INSERT);
		CHECK(strlen(json_string_value(json_object_get(ins, "summary"))) <= LIMIT_GOOGLE_SUMMARY_MAX);
		CHECK(strlen(json_string_value(json_object_get(ins, "summary"))) % 2 == 0);
		json_decref(ins);
		free(big);
	}
}

static void
test_compare(void)
{
	struct gcal_entry e;
	json_t *ev;
	char why[160];
	int64_t start = 1718000000000LL, now = start + 7200 * 1000;

	memset(&e, 0, sizeof(e));
	e.id = 42;
	e.workspace_id = 1;
	e.description = "meeting";
	e.start_ms = start + 250;          /* sub-second starts are sent, and compared, in whole seconds */
	e.stop_ms = start + 1800 * 1000;
	ev = gcal_event_build(&e, now, GCAL_BODY_INSERT);
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), 0);
	/* Google answers in the calendar's zone: the same instant written another way is no difference */
	json_object_set_new(json_object_get(ev, "start"), "dateTime", json_string("2024-06-10T08:13:20+02:00"));
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), 0);
	CHECK_INT(gcal_event_compare(&e, NULL, now, why, sizeof(why)), GCAL_DIFF_MISSING);
	CHECK(strstr(why, "missing") != NULL);
	json_object_set_new(ev, "summary", json_string("edited by hand"));
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), GCAL_DIFF_SUMMARY);
	json_object_set_new(ev, "summary", json_string("meeting"));
	json_object_set_new(ev, "colorId", json_string("3"));
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), GCAL_DIFF_COLOR);
	json_object_del(ev, "colorId");
	json_object_set_new(json_object_get(ev, "end"), "dateTime", json_string("2024-06-10T09:00:00Z"));
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), GCAL_DIFF_TIME);
	json_object_set_new(ev, "status", json_string("cancelled"));
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), GCAL_DIFF_MISSING);
	CHECK(strstr(why, "deleted") != NULL);
	/* a deleted entry: no event, or a cancelled one, is right; a live one is not */
	e.deleted = 1;
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), 0);
	CHECK_INT(gcal_event_compare(&e, NULL, now, why, sizeof(why)), 0);
	json_object_set_new(ev, "status", json_string("confirmed"));
	CHECK_INT(gcal_event_compare(&e, ev, now, why, sizeof(why)), GCAL_DIFF_PRESENT);
	json_decref(ev);
}

/* ---- the client's parsers ------------------------------------------------------------------------- */

#define BODY(s) (s), sizeof(s) - 1

static void
test_classify(void)
{
	struct api_google_error e;

	CHECK_INT(api_google_classify(200, BODY("{}"), 0, &e), API_GOOGLE_OK);
	CHECK_INT(api_google_classify(204, NULL, 0, 0, &e), API_GOOGLE_OK);
	CHECK_INT(api_google_classify(401, BODY("{\"error\":{\"errors\":[{\"domain\":\"global\",\"reason\":"
	    "\"authError\",\"message\":\"Invalid Credentials\",\"locationType\":\"header\",\"location\":"
	    "\"Authorization\"}],\"code\":401,\"message\":\"Invalid Credentials\"}}"), 0, &e), API_GOOGLE_AUTH);
	CHECK_STR(e.reason, "authError");
	CHECK_STR(e.message, "Invalid Credentials");
	CHECK_INT(api_google_classify(403, BODY("{\"error\":{\"errors\":[{\"domain\":\"usageLimits\",\"reason\":"
	    "\"rateLimitExceeded\",\"message\":\"Rate Limit Exceeded\"}],\"code\":403}}"), 0, &e), API_GOOGLE_RATE);
	CHECK_INT(api_google_classify(403, BODY("{\"error\":{\"errors\":[{\"reason\":\"userRateLimitExceeded\"}]}}"),
	    0, &e), API_GOOGLE_RATE);
	CHECK_INT(api_google_classify(403, BODY("{\"error\":{\"errors\":[{\"reason\":\"quotaExceeded\","
	    "\"message\":\"Calendar usage limits exceeded.\"}]}}"), 0, &e), API_GOOGLE_RATE);
	CHECK_STR(e.message, "Calendar usage limits exceeded.");
	CHECK_INT(api_google_classify(403, BODY("{\"error\":{\"errors\":[{\"reason\":\"insufficientPermissions\"}],"
	    "\"message\":\"Request had insufficient authentication scopes.\"}}"), 0, &e), API_GOOGLE_FORBIDDEN);
	CHECK_STR(e.message, "Request had insufficient authentication scopes.");
	CHECK_INT(api_google_classify(429, BODY("{\"error\":{\"errors\":[{\"reason\":\"rateLimitExceeded\"}]}}"), 0,
	    &e), API_GOOGLE_RATE);
	CHECK_INT(api_google_classify(429, BODY("Too many"), 0, &e), API_GOOGLE_RATE);
	CHECK_INT(api_google_classify(404, BODY("{\"error\":{\"errors\":[{\"reason\":\"notFound\"}]}}"), 0, &e),
	    API_GOOGLE_NOT_FOUND);
	CHECK_INT(api_google_classify(410, BODY("{\"error\":{\"errors\":[{\"reason\":\"deleted\",\"message\":"
	    "\"Resource has been deleted\"}]}}"), 0, &e), API_GOOGLE_GONE);
	CHECK_INT(api_google_classify(409, BODY("{\"error\":{\"errors\":[{\"domain\":\"global\",\"reason\":"
	    "\"duplicate\",\"message\":\"The requested identifier already exists.\"}],\"code\":409}}"), 0, &e),
	    API_GOOGLE_DUPLICATE);
	CHECK_INT(api_google_classify(409, BODY("{\"error\":{\"errors\":[{\"reason\":\"conflict\"}]}}"), 0, &e),
	    API_GOOGLE_CONFLICT);
	CHECK_INT(api_google_classify(412, BODY("{}"), 0, &e), API_GOOGLE_CONFLICT);
	CHECK_INT(api_google_classify(400, BODY("{\"error\":{\"errors\":[{\"domain\":\"calendar\",\"reason\":"
	    "\"timeRangeEmpty\",\"message\":\"The specified time range is empty.\"}],\"code\":400}}"), 0, &e),
	    API_GOOGLE_BAD_REQUEST);
	CHECK_STR(e.reason, "timeRangeEmpty");
	CHECK_INT(api_google_classify(500, BODY("{\"error\":{\"errors\":[{\"reason\":\"backendError\"}]}}"), 0, &e),
	    API_GOOGLE_SERVER);
	CHECK_INT(api_google_classify(503, BODY("<html>unavailable</html>"), 0, &e), API_GOOGLE_SERVER);
	CHECK_STR(e.message, "<html>unavailable</html>");
	CHECK_INT(api_google_classify(302, NULL, 0, 0, &e), API_GOOGLE_BAD_ANSWER);
	CHECK_STR(e.message, "HTTP 302");
	/* messages are made safe for a person and a text column */
	CHECK_INT(api_google_classify(400, BODY("bad\x01\n\xff\xc3"), 0, &e), API_GOOGLE_BAD_REQUEST);
	CHECK_STR(e.message, "bad  ??");
	/* the token endpoint */
	CHECK_INT(api_google_classify(400, BODY("{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"Token has been expired or revoked.\"}"), 1, &e), API_GOOGLE_INVALID_GRANT);
	CHECK_STR(e.message, "Token has been expired or revoked.");
	CHECK_INT(api_google_classify(400, BODY("{\"error\":\"invalid_token\"}"), 1, &e), API_GOOGLE_INVALID_GRANT);
	CHECK_INT(api_google_classify(401, BODY("{\"error\":\"invalid_client\",\"error_description\":"
	    "\"Unauthorized\"}"), 1, &e), API_GOOGLE_INVALID_CLIENT);
	CHECK_INT(api_google_classify(400, BODY("{\"error\":\"unauthorized_client\"}"), 1, &e),
	    API_GOOGLE_INVALID_CLIENT);
	CHECK_INT(api_google_classify(400, BODY("{\"error\":\"redirect_uri_mismatch\"}"), 1, &e),
	    API_GOOGLE_BAD_REQUEST);
	CHECK_INT(api_google_classify(500, BODY("{\"error\":\"internal_failure\"}"), 1, &e), API_GOOGLE_SERVER);
}

static void
test_token_parse(void)
{
	struct api_google_token t;
	char err[160];

	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"ya29.a0-_~+/=x\",\"expires_in\":3599,"
	    "\"refresh_token\":\"1//0abc\",\"scope\":\"https://www.googleapis.com/auth/calendar.app.created\","
	    "\"token_type\":\"Bearer\"}"), &t, err, sizeof(err)), 0);
	CHECK_STR(t.access_token, "ya29.a0-_~+/=x");
	CHECK_STR(t.refresh_token, "1//0abc");
	CHECK_INT(t.expires_in, 3599);
	CHECK(api_google_has_scope(t.scope, API_GOOGLE_SCOPE));
	api_google_token_free(&t);
	CHECK(t.access_token == NULL);
	/* a refresh answer: no refresh token, scope optional, expires_in as a string */
	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"a\",\"expires_in\":\"120\",\"token_type\":"
	    "\"bearer\"}"), &t, err, sizeof(err)), 0);
	CHECK(t.refresh_token == NULL);
	CHECK_STR(t.scope, "");
	CHECK_INT(t.expires_in, 120);
	api_google_token_free(&t);
	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"a\",\"expires_in\":-5}"), &t, err, sizeof(err)), 0);
	CHECK_INT(t.expires_in, 3599);
	api_google_token_free(&t);
	/* refused */
	CHECK_INT(api_google_token_parse(BODY("{\"expires_in\":3599}"), &t, err, sizeof(err)), -1);
	CHECK(t.access_token == NULL);
	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"a b\"}"), &t, err, sizeof(err)), -1);
	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"a\\nb\"}"), &t, err, sizeof(err)), -1);
	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"\"}"), &t, err, sizeof(err)), -1);
	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"a\",\"refresh_token\":7}"), &t, err, sizeof(err)),
	    -1);
	CHECK_INT(api_google_token_parse(BODY("{\"access_token\":\"a\",\"token_type\":\"MAC\"}"), &t, err, sizeof(err)),
	    -1);
	CHECK_INT(api_google_token_parse(BODY("[\"access_token\"]"), &t, err, sizeof(err)), -1);
	CHECK_INT(api_google_token_parse(BODY("not json"), &t, err, sizeof(err)), -1);
	CHECK_INT(api_google_token_parse(NULL, 0, &t, err, sizeof(err)), -1);
	{
		char *big = malloc(LIMIT_GOOGLE_TOKEN_MAX + 64);
		int n = snprintf(big, 40, "{\"access_token\":\"");
		memset(big + n, 'a', LIMIT_GOOGLE_TOKEN_MAX + 1);
		memcpy(big + n + LIMIT_GOOGLE_TOKEN_MAX + 1, "\"}", 3);
		CHECK_INT(api_google_token_parse(big, strlen(big), &t, err, sizeof(err)), -1);
		free(big);
	}
	/* scopes are words, not substrings */
	CHECK(api_google_has_scope("a b  c", "b"));
	CHECK(!api_google_has_scope("ab c", "b"));
	CHECK(!api_google_has_scope(API_GOOGLE_SCOPE ".readonly", API_GOOGLE_SCOPE));
	CHECK(!api_google_has_scope("", API_GOOGLE_SCOPE));
	CHECK(!api_google_has_scope(NULL, API_GOOGLE_SCOPE));
}

int
main(void)
{
	json_t *d = load_discovery();

	schemas = d ? json_object_get(d, "schemas") : NULL;
	test_event_ids();
	test_colors();
	test_event_build();
	test_compare();
	test_classify();
	test_token_parse();
	json_decref(d);
	return CHECK_DONE("test_gcal");
}
