/* fuzz_webhook.c: libFuzzer target for the webhook input path after the signature: the JSON body gate
 * (http_parse_json_body), the envelope parser (toggl_webhook_parse) and the time-entry parser in both modes
 * (toggl_entry_parse). Invariants are checked, not just crashes: what the parsers return must be what
 * their headers promise. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/parse.h"
#include "toggl/toggl.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_entry(json_t *obj, enum toggl_entry_mode mode)
{
	struct toggl_entry e;
	char err[256];

	err[0] = '\0';
	if (toggl_entry_parse(obj, mode, &e, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();   /* every refusal says why */
		return;
	}
	if (e.id <= 0 || !json_is_array(e.tags) || !json_is_array(e.tag_ids))
		abort();
	if (mode == TOGGL_ENTRY_FULL && (e.start == NULL || e.at == NULL || !e.has_duration))
		abort();
	/* A negative duration is a running entry and never has a stop. */
	if (e.has_duration && e.duration < 0 && (!e.running || e.stop != NULL || e.stop_derived))
		abort();
	if (e.stop && e.start && e.stop_ms < e.start_ms)
		abort();
	toggl_entry_free(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toggl_webhook ev;
	json_t *body = NULL;
	char err[256];

	if (size > LIMIT_BODY_MAX)
		return 0;
	if (http_parse_json_body((const char *)data, size, &body, err, sizeof(err)) != HTTP_POK)
		return 0;
	if (toggl_webhook_parse(body, &ev, err, sizeof(err)) == 0) {
		if (ev.kind == TOGGL_EVENT_ENTITY && ev.event_id <= 0)
			abort();
		if (ev.validation_code && (strlen(ev.validation_code) == 0 ||
		    strlen(ev.validation_code) > LIMIT_WEBHOOK_VALIDATION_CODE_MAX))
			abort();
		if (ev.payload) {
			check_entry(ev.payload, TOGGL_ENTRY_FULL);
			check_entry(ev.payload, TOGGL_ENTRY_DELETED);
		}
	}
	/* The body itself as an API v9 object (import and reconciliation feed those). */
	check_entry(body, TOGGL_ENTRY_FULL);
	json_decref(body);
	return 0;
}
