/* test_toggl_entry.c: unit tests of src/toggl/entry.c (time entries and webhook envelopes as Toggl sends
 * them) and of the webhook signature check against Toggl's documented vectors, read from
 * ../shared/fixtures/toggl-webhook-signature-vectors.json (TB_FIXTURES_DIR overrides the directory). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "toggl/toggl.h"
#include "util/crypto.h"
#include "check.h"

#ifndef TB_FIXTURES_DIR
#define TB_FIXTURES_DIR "../shared/fixtures"
#endif

static json_t *
J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);

	if (v == NULL)
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, text);
	return v;
}

/* Parse text as an entry; 0 or -1. On 0 the caller gets *e and *obj to free. */
static int
parse(const char *text, enum toggl_entry_mode mode, struct toggl_entry *e, json_t **obj, char *err, size_t n)
{
	*obj = J(text);
	if (*obj == NULL)
		return -2;
	if (toggl_entry_parse(*obj, mode, e, err, n) != 0) {
		json_decref(*obj);
		*obj = NULL;
		return -1;
	}
	return 0;
}

static void
done(struct toggl_entry *e, json_t *obj)
{
	toggl_entry_free(e);
	json_decref(obj);
}

static void
test_signature_vectors(void)
{
	const char *dir = getenv("TB_FIXTURES_DIR") ? getenv("TB_FIXTURES_DIR") : TB_FIXTURES_DIR;
	char path[1024], err[256];
	json_error_t je;
	json_t *doc, *vectors, *v;
	size_t i, checked = 0;

	snprintf(path, sizeof(path), "%s/toggl-webhook-signature-vectors.json", dir);
	if ((doc = json_load_file(path, 0, &je)) == NULL) {
		/* A tarball build has no ../shared: test_crypto.c carries the same vectors inline. */
		printf("test_toggl_entry: %s not readable (%s): vectors from the fixture skipped\n", path, je.text);
		return;
	}
	vectors = json_object_get(doc, "vectors");
	CHECK(json_array_size(vectors) >= 2);
	json_array_foreach(vectors, i, v) {
		const char *secret = json_string_value(json_object_get(v, "secret"));
		const char *body = json_string_value(json_object_get(v, "body"));
		const char *sig = json_string_value(json_object_get(v, "signature"));
		struct toggl_webhook ev;
		json_t *parsed;
		char *bad;

		CHECK(secret && body && sig);
		if (!secret || !body || !sig)
			continue;
		CHECK_STR(json_string_value(json_object_get(v, "header")), "X-Webhook-Signature-256");
		CHECK_INT(crypto_verify_sha256_header(sig, secret, strlen(secret), body, strlen(body)), 1);
		/* Wrong secret, changed body, uppercase hex, truncated: refused. */
		CHECK_INT(crypto_verify_sha256_header(sig, "x", 1, body, strlen(body)), 0);
		CHECK_INT(crypto_verify_sha256_header(sig, secret, strlen(secret), body, strlen(body) - 1), 0);
		bad = strdup(sig);
		for (char *p = bad + 7; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		CHECK_INT(crypto_verify_sha256_header(bad, secret, strlen(secret), body, strlen(body)), 0);
		bad[strlen(bad) - 1] = '\0';
		CHECK_INT(crypto_verify_sha256_header(bad, secret, strlen(secret), body, strlen(body)), 0);
		free(bad);
		/* And the body is a ping envelope to our parser. */
		parsed = J(body);
		CHECK(parsed != NULL);
		CHECK_INT(toggl_webhook_parse(parsed, &ev, err, sizeof(err)), 0);
		CHECK_INT(ev.kind, TOGGL_EVENT_PING);
		CHECK_INT(ev.event_id, 0);
		CHECK_INT(ev.subscription_id, 6);
		CHECK(ev.validation_code == NULL);
		CHECK_STR(ev.created_at, "2022-06-25T03:58:10.207820267Z");
		json_decref(parsed);
		checked++;
	}
	CHECK_INT(checked, json_array_size(vectors));
	json_decref(doc);
}

/* A running entry as a webhook carries it, with the observed formats. */
static const char webhook_running[] =
    "{\"at\":\"2023-07-17T11:43:32+00:00\",\"billable\":false,\"description\":\"Meeting\",\"duration\":-1689594212,"
    "\"duronly\":true,\"id\":3095646709,\"project_id\":null,\"server_deleted_at\":null,"
    "\"start\":\"2023-07-17T11:43:32Z\",\"stop\":null,\"tag_ids\":null,\"tags\":[],\"task_id\":null,"
    "\"uid\":6,\"user_id\":6,\"wid\":7435584,\"workspace_id\":7435584}";

static void
test_entries(void)
{
	struct toggl_entry e;
	json_t *o;
	char err[256];

	CHECK_INT(parse(webhook_running, TOGGL_ENTRY_FULL, &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK_INT(e.id, 3095646709LL);
		CHECK_INT(e.workspace_id, 7435584);
		CHECK_INT(e.user_id, 6);
		CHECK(e.has_user && e.has_workspace && !e.has_project && !e.has_task);
		CHECK_INT(e.running, 1);
		CHECK_INT(e.duration, -1689594212LL);
		CHECK(e.stop == NULL && !e.stop_derived);
		CHECK_STR(e.start, "2023-07-17T11:43:32Z");
		CHECK_INT(e.start_ms, 1689594212000LL);
		CHECK_STR(e.description, "Meeting");
		CHECK(e.server_deleted_at == NULL);
		CHECK_INT(json_array_size(e.tags), 0);
		CHECK_INT(json_array_size(e.tag_ids), 0);
		done(&e, o);
	}

	/* API v9: running is -1; microsecond `at`; legacy names only; description null; tags as names. */
	CHECK_INT(parse("{\"id\":1,\"wid\":2,\"uid\":3,\"pid\":4,\"tid\":5,\"start\":\"2024-12-15T20:20:50+00:00\","
	    "\"stop\":null,\"duration\":-1,\"description\":null,\"tags\":[\"a\",\"b\"],\"tag_ids\":[7,8],"
	    "\"at\":\"2024-12-15T20:20:50.283589Z\",\"billable\":true}", TOGGL_ENTRY_FULL, &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK_INT(e.workspace_id, 2);
		CHECK_INT(e.user_id, 3);
		CHECK_INT(e.project_id, 4);
		CHECK_INT(e.task_id, 5);
		CHECK(e.running && e.duration == -1 && e.stop == NULL);
		CHECK(e.description == NULL);
		CHECK_INT(e.billable, 1);
		CHECK_INT(json_array_size(e.tags), 2);
		CHECK_INT(json_integer_value(json_array_get(e.tag_ids, 1)), 8);
		CHECK_STR(e.at, "2024-12-15T20:20:50.283589Z");
		done(&e, o);
	}

	/* Current names win over legacy ones. */
	CHECK_INT(parse("{\"id\":1,\"workspace_id\":20,\"wid\":2,\"user_id\":30,\"uid\":3,\"project_id\":40,\"pid\":4,"
	    "\"start\":\"2024-01-01T10:00:00Z\",\"duration\":60,\"at\":\"2024-01-01T10:01:00Z\"}", TOGGL_ENTRY_FULL,
	    &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK(e.workspace_id == 20 && e.user_id == 30 && e.project_id == 40);
		/* Stopped, no stop sent: derived. */
		CHECK(!e.running && e.stop == NULL && e.stop_derived);
		CHECK_INT(e.stop_ms, e.start_ms + 60000);
		done(&e, o);
	}

	/* A stopped entry: stop kept as sent. A stop with a negative duration: running wins, stop dropped. */
	CHECK_INT(parse("{\"id\":9,\"start\":\"2024-01-01T10:00:00Z\",\"stop\":\"2024-01-01T11:00:00Z\","
	    "\"duration\":3600,\"at\":\"2024-01-01T11:00:00Z\"}", TOGGL_ENTRY_FULL, &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK_STR(e.stop, "2024-01-01T11:00:00Z");
		CHECK(!e.running && !e.stop_derived && e.duration == 3600);
		done(&e, o);
	}
	CHECK_INT(parse("{\"id\":9,\"start\":\"2024-01-01T10:00:00Z\",\"stop\":\"2024-01-01T11:00:00Z\","
	    "\"duration\":-1704103200,\"at\":\"2024-01-01T11:00:00Z\"}", TOGGL_ENTRY_FULL, &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK(e.running && e.stop == NULL);
		done(&e, o);
	}
	/* No duration: from stop, else running. */
	CHECK_INT(parse("{\"id\":9,\"start\":\"2024-01-01T10:00:00Z\",\"stop\":\"2024-01-01T10:30:00Z\","
	    "\"at\":\"2024-01-01T11:00:00Z\"}", TOGGL_ENTRY_FULL, &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK(!e.running && e.duration == 1800);
		done(&e, o);
	}
	/* Ids as decimal strings (as in webhook metadata) are accepted. */
	CHECK_INT(parse("{\"id\":\"123\",\"user_id\":\"6\",\"start\":\"2024-01-01T10:00:00Z\",\"duration\":-1,"
	    "\"at\":\"2024-01-01T10:00:00Z\"}", TOGGL_ENTRY_FULL, &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK(e.id == 123 && e.user_id == 6);
		done(&e, o);
	}
}

static void
test_entry_errors(void)
{
	static const struct { const char *json, *want; } bad[] = {
		{ "[]", "not a JSON object" },
		{ "{}", "id" },
		{ "{\"id\":0,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\"}", "id" },
		{ "{\"id\":-4,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\"}", "id" },
		{ "{\"id\":\"12a\",\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\"}", "id" },
		{ "{\"id\":\"0123\",\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\"}", "id" },
		{ "{\"id\":\"99999999999999999999\",\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\"}",
		  "id" },
		{ "{\"id\":1.5,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\"}", "id" },
		{ "{\"id\":1,\"at\":\"2024-01-01T10:00:00Z\"}", "start is missing" },
		{ "{\"id\":1,\"start\":\"2024-01-01 10:00:00\",\"at\":\"2024-01-01T10:00:00Z\"}", "start" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\"}", "at is missing" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":5}", "at" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"stop\":"
		  "\"2024-01-01T09:00:00Z\",\"duration\":5}", "stop is before start" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"duration\":1.5}",
		  "duration" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"duration\":"
		  "9223372036854775807}", "duration" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"tags\":\"a\"}", "tags" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"tags\":[1]}", "tags" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"tag_ids\":[\"1\"]}",
		  "tag_ids" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"tag_ids\":[0]}",
		  "tag_ids" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"description\":4}",
		  "description" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"billable\":\"yes\"}",
		  "billable" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"workspace_id\":\"x\"}",
		  "workspace_id" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\",\"pid\":-3}", "pid" },
		{ "{\"id\":1,\"start\":\"2024-01-01T10:00:00Z\",\"at\":\"2024-01-01T10:00:00Z\","
		  "\"server_deleted_at\":\"never\"}", "server_deleted_at" },
	};
	struct toggl_entry e;
	json_t *o;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_INT(parse(bad[i].json, TOGGL_ENTRY_FULL, &e, &o, err, sizeof(err)), -1);
		if (strstr(err, bad[i].want) == NULL)
			fprintf(stderr, "case %zu: error \"%s\" does not mention \"%s\"\n", i, err, bad[i].want);
		CHECK(strstr(err, bad[i].want) != NULL);
	}
}

static void
test_deleted_mode(void)
{
	struct toggl_entry e;
	json_t *o;
	char err[256];

	/* Only the id is needed; malformed details are dropped, not fatal. */
	CHECK_INT(parse("{\"id\":77}", TOGGL_ENTRY_DELETED, &e, &o, err, sizeof(err)), 0);
	if (o) {
		CHECK(e.id == 77 && e.start == NULL && e.at == NULL && !e.has_user && !e.has_duration);
		done(&e, o);
	}
	CHECK_INT(parse("{\"id\":77,\"start\":\"garbage\",\"at\":7,\"user_id\":\"x\",\"tags\":5,\"duration\":\"z\","
	    "\"server_deleted_at\":\"2024-01-01T10:00:00Z\",\"workspace_id\":12}", TOGGL_ENTRY_DELETED, &e, &o, err,
	    sizeof(err)), 0);
	if (o) {
		CHECK(e.start == NULL && e.at == NULL && !e.has_user && e.has_workspace && e.workspace_id == 12);
		CHECK_STR(e.server_deleted_at, "2024-01-01T10:00:00Z");
		CHECK_INT(json_array_size(e.tags), 0);
		done(&e, o);
	}
	CHECK_INT(parse("{\"start\":\"2024-01-01T10:00:00Z\"}", TOGGL_ENTRY_DELETED, &e, &o, err, sizeof(err)), -1);
}

static void
test_envelopes(void)
{
	struct toggl_webhook ev;
	json_t *b;
	char err[256], longcode[LIMIT_WEBHOOK_VALIDATION_CODE_MAX + 128];
	char code[LIMIT_WEBHOOK_VALIDATION_CODE_MAX + 2];

	b = J("{\"event_id\":8256404788000001,\"created_at\":\"2023-07-17T11:43:32.123Z\",\"creator_id\":6,"
	    "\"metadata\":{\"action\":\"updated\",\"event_user_id\":\"6\",\"model\":\"time_entry\","
	    "\"model_owner_id\":\"6\",\"path\":\"/api/v9/workspaces/1/time_entries/3\",\"request_type\":\"PUT\","
	    "\"time_entry_id\":\"3095646709\",\"workspace_id\":\"7435584\"},\"payload\":{\"id\":3095646709},"
	    "\"subscription_id\":12,\"timestamp\":\"2023-07-17T11:43:32.207820267Z\",\"url_callback\":\"https://x/y\"}");
	CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), 0);
	CHECK_INT(ev.kind, TOGGL_EVENT_ENTITY);
	CHECK_INT(ev.event_id, 8256404788000001LL);
	CHECK_STR(ev.model, "time_entry");
	CHECK_STR(ev.action, "updated");
	CHECK_INT(ev.model_owner_id, 6);
	CHECK_INT(ev.object_id, 3095646709LL);
	CHECK_INT(ev.subscription_id, 12);
	CHECK(ev.payload != NULL && json_is_object(ev.payload));
	CHECK_STR(ev.url_callback, "https://x/y");
	CHECK_STR(ev.timestamp, "2023-07-17T11:43:32.207820267Z");
	json_decref(b);

	/* A ping with a validation code (the unvalidated-subscription form). */
	b = J("{\"event_id\":0,\"payload\":\"ping\",\"validation_code\":\"abc-123_XYZ\","
	    "\"validation_code_url\":\"https://track.toggl.com/webhooks/api/v1/validate/1/2/abc-123_XYZ\","
	    "\"metadata\":{\"request_type\":\"POST\",\"event_user_id\":6}}");
	CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), 0);
	CHECK_INT(ev.kind, TOGGL_EVENT_PING);
	CHECK_STR(ev.validation_code, "abc-123_XYZ");
	CHECK(ev.model == NULL && ev.payload == NULL);
	json_decref(b);
	/* A ping without event_id is still a ping. */
	b = J("{\"payload\":\"ping\"}");
	CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), 0);
	CHECK(ev.kind == TOGGL_EVENT_PING && ev.event_id == 0);
	json_decref(b);
	/* Unknown models, missing metadata, a payload that is not an object: parsed, for the handler to judge. */
	b = J("{\"event_id\":5,\"payload\":[1]}");
	CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), 0);
	CHECK(ev.kind == TOGGL_EVENT_ENTITY && ev.payload == NULL && ev.model == NULL && ev.object_id == 0);
	json_decref(b);
	b = J("{\"event_id\":\"5\",\"metadata\":{\"model\":7,\"model_owner_id\":\"x\"}}");
	CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), 0);
	CHECK(ev.event_id == 5 && ev.model == NULL && ev.model_owner_id == 0);
	json_decref(b);

	static const char *const bad[] = {
		"[]", "\"ping\"", "{}", "{\"payload\":{}}", "{\"event_id\":0,\"payload\":{}}", "{\"event_id\":-1}",
		"{\"event_id\":1.0}", "{\"event_id\":\"x\"}", "{\"event_id\":0,\"payload\":\"ping\",\"validation_code\":1}",
		"{\"event_id\":0,\"payload\":\"ping\",\"validation_code\":\"\"}",
		"{\"event_id\":0,\"payload\":\"ping\",\"validation_code\":\"a\\u0001b\"}",
		"{\"event_id\":0,\"payload\":\"ping\",\"validation_code\":\"caf\\u00e9\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = J(bad[i]);
		CHECK(b != NULL);
		err[0] = '\0';
		CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), -1);
		CHECK(err[0] != '\0');
		json_decref(b);
	}
	/* The longest code we echo, and one character more. */
	memset(code, 'a', sizeof(code));
	code[LIMIT_WEBHOOK_VALIDATION_CODE_MAX + 1] = '\0';
	snprintf(longcode, sizeof(longcode), "{\"event_id\":0,\"payload\":\"ping\",\"validation_code\":\"%s\"}", code);
	b = J(longcode);
	CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), -1);
	json_decref(b);
	code[LIMIT_WEBHOOK_VALIDATION_CODE_MAX] = '\0';
	snprintf(longcode, sizeof(longcode), "{\"event_id\":0,\"payload\":\"ping\",\"validation_code\":\"%s\"}", code);
	b = J(longcode);
	CHECK_INT(toggl_webhook_parse(b, &ev, err, sizeof(err)), 0);
	CHECK_INT(strlen(ev.validation_code), LIMIT_WEBHOOK_VALIDATION_CODE_MAX);
	json_decref(b);
}

static void
test_json_id(void)
{
	json_t *o = J("{\"a\":5,\"b\":\"17\",\"c\":0,\"d\":\"0\",\"e\":null,\"f\":true,\"g\":\"+1\",\"h\":\" 1\"}");
	int64_t v = -1;

	CHECK_INT(toggl_json_id(o, "a", 0, &v), 1);
	CHECK_INT(v, 5);
	CHECK_INT(toggl_json_id(o, "b", 0, &v), 1);
	CHECK_INT(v, 17);
	CHECK_INT(toggl_json_id(o, "c", 0, &v), -1);
	CHECK_INT(toggl_json_id(o, "c", 1, &v), 1);
	CHECK_INT(toggl_json_id(o, "d", 1, &v), 1);
	CHECK_INT(toggl_json_id(o, "e", 0, &v), 0);
	CHECK_INT(toggl_json_id(o, "missing", 0, &v), 0);
	CHECK_INT(toggl_json_id(o, "f", 0, &v), -1);
	CHECK_INT(toggl_json_id(o, "g", 0, &v), -1);
	CHECK_INT(toggl_json_id(o, "h", 0, &v), -1);
	CHECK_INT(toggl_json_id(NULL, "a", 0, &v), 0);
	json_decref(o);
}

int
main(void)
{
	test_signature_vectors();
	test_entries();
	test_entry_errors();
	test_deleted_mode();
	test_envelopes();
	test_json_id();
	return CHECK_DONE("test_toggl_entry");
}
