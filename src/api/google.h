/* google.h: the Google client on top of http_client: the OAuth 2.0 token endpoint (authorization-code
 * exchange with PKCE, refresh, revoke) and the Calendar API v3 calls timebridge makes (calendars insert, get
 * and patch; events insert, get, patch, update, delete and list). It knows the wire and nothing about
 * timebridge: each call classifies the answer from its status and Google's error body (see
 * ../shared/docs/upstream-apis.md sections C and D), and never retries: that is the caller's business. */
#ifndef TB_API_GOOGLE_H
#define TB_API_GOOGLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/http_client.h"
#include "util/limits.h"

/* The scope timebridge asks for: full control of the calendars it created, nothing else. */
#define API_GOOGLE_SCOPE "https://www.googleapis.com/auth/calendar.app.created"

/* What an answer means for the caller. */
enum api_google_res {
	API_GOOGLE_OK = 0,
	API_GOOGLE_AUTH,            /* 401 (authError): the access token expired or was revoked */
	API_GOOGLE_RATE,            /* 403 rateLimitExceeded, userRateLimitExceeded, quotaExceeded; 429: back off */
	API_GOOGLE_FORBIDDEN,       /* any other 403 (insufficientPermissions...): the grant does not allow it */
	API_GOOGLE_NOT_FOUND,       /* 404 */
	API_GOOGLE_GONE,            /* 410 (deleted, fullSyncRequired, updatedMinTooLongAgo) */
	API_GOOGLE_DUPLICATE,       /* 409 duplicate: the id is taken, even by a cancelled event */
	API_GOOGLE_CONFLICT,        /* any other 409, 412 conditionNotMet */
	API_GOOGLE_BAD_REQUEST,     /* 400 and the other 4xx: our request is wrong; never retried as it is */
	API_GOOGLE_SERVER,          /* 5xx: retry later */
	API_GOOGLE_NETWORK,         /* no answer (connect, timeout, TLS, too large): retry later */
	API_GOOGLE_INVALID_GRANT,   /* token endpoint: invalid_grant (refresh token revoked or expired, a bad
	                             * or used code) or, from /revoke, invalid_token */
	API_GOOGLE_INVALID_CLIENT,  /* token endpoint: invalid_client or unauthorized_client: configuration */
	API_GOOGLE_BAD_ANSWER,      /* a 2xx whose body is not what the API documents, or a 1xx/3xx */
	API_GOOGLE__MAX
};

/* Worth retrying later as it is (the per-user backoff is the caller's, for API_GOOGLE_RATE). */
#define API_GOOGLE_TRANSIENT(r) \
	((r) == API_GOOGLE_RATE || (r) == API_GOOGLE_SERVER || (r) == API_GOOGLE_NETWORK || (r) == API_GOOGLE_CONFLICT)

/* The classification of one answer, with Google's words for the user. */
struct api_google_error {
	enum api_google_res res;
	long   status;                            /* HTTP status; 0 when nothing arrived */
	char   reason[64];                        /* errors[0].reason, or the OAuth "error"; "" when none */
	char   message[LIMIT_GOOGLE_ERROR_TEXT];  /* errors[0].message / error.message / error_description, or
	                                           * the start of a non-JSON body; printable ASCII/UTF-8 only */
};

/* A token endpoint answer. Strings are malloc'ed; api_google_token_free() wipes and frees them. */
struct api_google_token {
	char    *access_token;
	char    *refresh_token;   /* NULL when absent (refresh answers; a code exchange without new consent) */
	char    *scope;           /* space-separated granted scopes; "" when absent */
	int64_t  expires_in;      /* seconds; 3599 when absent or unusable */
};

/* Pure, for every answer. token_endpoint: the body is OAuth's {"error","error_description"} rather than
 * the Calendar API's {"error":{"errors":[...],"code","message"}}. Fills *out and returns out->res. Never
 * fails: unparseable bodies are classified by status alone (message = their printable start). */
enum api_google_res api_google_classify(long status, const char *body, size_t len, int token_endpoint,
    struct api_google_error *out);

/* Pure: parse a 200 answer of the token endpoint into *out (zeroed first). 0, or -1 with a reason in err
 * (not JSON, no access_token, a token longer than LIMIT_GOOGLE_TOKEN_MAX or with characters a bearer token
 * never has, token_type not Bearer); *out is then freed. */
int  api_google_token_parse(const char *body, size_t len, struct api_google_token *out, char *err, size_t errsz)
	__attribute__((warn_unused_result));
void api_google_token_free(struct api_google_token *t);

/* Does the space-separated scope list contain scope exactly? */
int  api_google_has_scope(const char *scopes, const char *scope);

/* One client. Everything but http is set by the calls. */
struct api_google {
	struct http_client     *http;       /* borrowed */
	const char             *log_ctx;    /* "job 42", a request id; may be NULL */
	struct api_google_error err;        /* the last call: res API_GOOGLE_OK after success */
	double                  ms;         /* duration of the last call */
	long                    requests;   /* HTTP requests sent */
};

/* ---- OAuth (URLs, client id and secret from the configuration) ------------------------------------ */

/* The authorization-code exchange with the PKCE verifier. On API_GOOGLE_OK *out holds the tokens. */
enum api_google_res api_google_exchange_code(struct api_google *g, const char *code, const char *verifier,
    const char *redirect_uri, struct api_google_token *out) __attribute__((warn_unused_result));
/* A new access token from the refresh token. */
enum api_google_res api_google_refresh(struct api_google *g, const char *refresh_token,
    struct api_google_token *out) __attribute__((warn_unused_result));
/* Revoke a token (and with it the whole grant). API_GOOGLE_INVALID_GRANT: it was already invalid. */
enum api_google_res api_google_revoke(struct api_google *g, const char *token) __attribute__((warn_unused_result));

/* ---- Calendar API v3. On API_GOOGLE_OK, *out (when out is not NULL) is the parsed answer, a new
 * reference; otherwise *out is NULL. Bodies are JSON objects, not stolen. ----------------------------- */

enum api_google_res api_google_calendar_insert(struct api_google *g, const char *bearer, json_t *body,
    json_t **out) __attribute__((warn_unused_result));
enum api_google_res api_google_calendar_get(struct api_google *g, const char *bearer, const char *calendar_id,
    json_t **out) __attribute__((warn_unused_result));
enum api_google_res api_google_calendar_patch(struct api_google *g, const char *bearer, const char *calendar_id,
    json_t *body, json_t **out) __attribute__((warn_unused_result));

/* One page of users/me/calendarList (with calendar.app.created: the calendars this client created). */
enum api_google_res api_google_calendar_list(struct api_google *g, const char *bearer, const char *page_token,
    json_t **out) __attribute__((warn_unused_result));

enum api_google_res api_google_event_insert(struct api_google *g, const char *bearer, const char *calendar_id,
    json_t *body, json_t **out) __attribute__((warn_unused_result));
enum api_google_res api_google_event_get(struct api_google *g, const char *bearer, const char *calendar_id,
    const char *event_id, json_t **out) __attribute__((warn_unused_result));
enum api_google_res api_google_event_patch(struct api_google *g, const char *bearer, const char *calendar_id,
    const char *event_id, json_t *body, json_t **out) __attribute__((warn_unused_result));
enum api_google_res api_google_event_update(struct api_google *g, const char *bearer, const char *calendar_id,
    const char *event_id, json_t *body, json_t **out) __attribute__((warn_unused_result));
enum api_google_res api_google_event_delete(struct api_google *g, const char *bearer, const char *calendar_id,
    const char *event_id) __attribute__((warn_unused_result));

/* events.list parameters; NULL/0 members are not sent. */
struct api_google_list_query {
	const char *time_min;       /* RFC 3339 with offset: events ending after it */
	const char *time_max;       /* events starting before it */
	const char *page_token;
	int         show_deleted;   /* cancelled events too (as {kind, etag, id, status}) */
	int         max_results;    /* 1..LIMIT_GOOGLE_LIST_PAGE */
};
/* One page; follow nextPageToken for the rest. */
enum api_google_res api_google_event_list(struct api_google *g, const char *bearer, const char *calendar_id,
    const struct api_google_list_query *q, json_t **out) __attribute__((warn_unused_result));

const char *api_google_res_name(enum api_google_res r);

#endif
