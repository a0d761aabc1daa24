/* parse.h: request-input parsers (query, form, cookies, JSON body) and kcgi-style validators that parse. */
#ifndef TB_HTTP_PARSE_H
#define TB_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"

/*
 * Why a parse failed. The caller maps it to a status: HTTP_PERR_TOOLONG on a request body is 413, every
 * other error is 400, HTTP_PERR_NOMEM is 500. The human-readable message comes separately (see below).
 */
enum http_perr {
	HTTP_POK = 0,
	HTTP_PERR_NOMEM,      /* the arena could not allocate */
	HTTP_PERR_TOOLONG,    /* the input as a whole is over its limit */
	HTTP_PERR_TOOMANY,    /* more fields than allowed */
	HTTP_PERR_NAMELEN,    /* one field name over LIMIT_FIELD_NAME_MAX */
	HTTP_PERR_VALUELEN,   /* one field value over LIMIT_FIELD_VALUE_MAX */
	HTTP_PERR_ESCAPE,     /* a '%' not followed by two hex digits */
	HTTP_PERR_NUL,        /* a NUL byte, raw or as %00 */
	HTTP_PERR_JSON,       /* malformed JSON, duplicate key, top level not an object or array */
	HTTP_PERR_DEPTH,      /* JSON nested deeper than LIMIT_JSON_DEPTH_MAX */
	HTTP_PERR__MAX
};

/* A short fixed description of an error code ("field value too long"). Never NULL. */
const char *http_perr_str(enum http_perr e);

/* One decoded name/value pair. Both strings are NUL-terminated and contain no NUL; vlen == strlen(val). */
struct kv {
	const char *key;
	const char *val;
	size_t      vlen;
};

/* Pairs in input order; duplicate keys are kept (multi-select forms send several). Arena-owned. */
struct kvlist {
	struct kv *v;
	size_t     n;
};

/* The first pair named key, or NULL. */
const struct kv *http_kv_get(const struct kvlist *l, const char *key);
/* Iterate over every pair named key: start with *pos = 0; returns NULL when there are no more. */
const struct kv *http_kv_next(const struct kvlist *l, const char *key, size_t *pos);

/*
 * Percent-decode s[0..len) into a new NUL-terminated arena string. plus_is_space: '+' means ' ' (query
 * strings and form bodies; not paths). Rejects '%' without two hex digits (HTTP_PERR_ESCAPE) and NUL,
 * raw or %00 (HTTP_PERR_NUL). *out and *outlen are set only on HTTP_POK.
 */
enum http_perr http_pct_decode(struct arena *a, const char *s, size_t len, int plus_is_space,
	char **out, size_t *outlen) __attribute__((warn_unused_result));

/*
 * Parse "a=1&b=2" (a QUERY_STRING or an application/x-www-form-urlencoded body) into *out, all memory
 * from a. Pairs are split on '&'; empty pieces ("a=1&&b=2") are skipped; a piece without '=' is a name
 * with an empty value; a piece with an empty name ("=x") is skipped, because no field can be looked up
 * by it. More than max_pairs pairs, a name over LIMIT_FIELD_NAME_MAX, a value over
 * LIMIT_FIELD_VALUE_MAX (after decoding), a bad escape or a NUL fail the whole input: partial forms are
 * not processed. On error *err (if err is not NULL) is a message naming the field and the problem,
 * arena-owned or static, safe to log; escape it like any text when showing it.
 * The caller bounds len; the wrappers below apply the named limits.
 */
enum http_perr http_parse_urlencoded(struct arena *a, const char *s, size_t len, size_t max_pairs,
	struct kvlist *out, const char **err) __attribute__((warn_unused_result));

/* QUERY_STRING (NUL-terminated; NULL means empty): LIMIT_QUERY_MAX bytes, LIMIT_FIELDS_MAX pairs. */
enum http_perr http_parse_query(struct arena *a, const char *qs, struct kvlist *out,
	const char **err) __attribute__((warn_unused_result));

/* A urlencoded form body: LIMIT_FORM_BODY_MAX bytes (TOOLONG → 413), LIMIT_FIELDS_MAX pairs. */
enum http_perr http_parse_form(struct arena *a, const char *body, size_t len, struct kvlist *out,
	const char **err) __attribute__((warn_unused_result));

/*
 * Parse an HTTP_COOKIE header (NUL-terminated; NULL means none): "a=b; c=\"d\"". See parse.c for the
 * policy: malformed pairs are skipped, limits (LIMIT_COOKIE_MAX bytes, LIMIT_FIELDS_MAX pairs) fail.
 * Values are not percent-decoded (RFC 6265 defines no encoding); surrounding double quotes are removed.
 */
enum http_perr http_parse_cookies(struct arena *a, const char *header, struct kvlist *out,
	const char **err) __attribute__((warn_unused_result));

/*
 * Parse a JSON request body with jansson: at most LIMIT_BODY_MAX bytes (else HTTP_PERR_TOOLONG), nesting
 * at most LIMIT_JSON_DEPTH_MAX (HTTP_PERR_DEPTH, checked by a pre-scan before jansson allocates
 * anything), duplicate object keys rejected, top level an object or an array. On HTTP_POK *out is a
 * new reference the caller must json_decref(). On error *out is NULL and err holds a message with
 * jansson's line and column.
 */
enum http_perr http_parse_json_body(const char *body, size_t len, json_t **out, char *err,
	size_t errsz) __attribute__((warn_unused_result));

/* UTF-8 */

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
int    http_utf8_valid(const char *s, size_t len);
/* Decode one code point at s (len > 0 bytes available). Returns its length 1..4, or 0 if malformed. */
size_t http_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Validators (kcgi style): one table per page, {name, type, maxlen}; handlers read typed values by index. */

enum http_ftype {
	HTTP_FT_TEXT = 0,   /* UTF-8, no control characters except \t \n \r */
	HTTP_FT_LINE,       /* TEXT without \t \n \r: names, titles, one-line inputs */
	HTTP_FT_EMAIL,      /* WHATWG "valid e-mail address", at most LIMIT_EMAIL_MAX bytes */
	HTTP_FT_INT64,      /* -?[0-9]+ in int64 range → .i64 */
	HTTP_FT_UINT,       /* [0-9]+ up to INT64_MAX → .i64 (fits a PostgreSQL bigint) */
	HTTP_FT_BOOL,       /* 1 on true yes / 0 off false no, any case → .b */
	HTTP_FT_DATE,       /* YYYY-MM-DD → .date, .i64 = days since 1970-01-01 */
	HTTP_FT_DATETIME,   /* RFC 3339 with offset → .i64 = epoch milliseconds */
	HTTP_FT_TOKEN,      /* URL-safe base64 alphabet [A-Za-z0-9_-]+, no padding */
	HTTP_FT_TZ,         /* IANA time zone name syntax ("Europe/Paris", "Etc/GMT+5", "UTC") */
	HTTP_FT_ENUM,       /* exactly one of .choices → .i64 = its index */
	HTTP_FT__MAX
};

/* Field flags. */
#define HTTP_FIELD_REQUIRED 0x1  /* absent (or empty) counts as a problem, reason "missing" */
#define HTTP_FIELD_MULTI    0x2  /* may repeat: every occurrence must be valid; else repeating is invalid */

struct http_field {
	const char         *name;
	enum http_ftype     type;
	size_t              maxlen;   /* bytes; 0 means LIMIT_FIELD_VALUE_MAX, larger values are clamped to it */
	unsigned            flags;    /* HTTP_FIELD_* */
	const char *const  *choices;  /* HTTP_FT_ENUM: NULL-terminated list */
	int64_t             min, max; /* INT64/UINT: inclusive range, applied only when min < max */
};

/*
 * The outcome for one field, at the same index as its http_field.
 * Empty values: for TEXT and LINE an empty value is a value (present, valid, len 0), so a form can
 * clear a description; for every other type an empty value counts as absent, so a blank optional date
 * input is simply "not given".
 */
struct http_value {
	int          present;  /* a (non-empty, for typed fields) value was given */
	int          valid;    /* present and every occurrence parsed */
	size_t       count;    /* occurrences considered */
	const char  *s;        /* the first occurrence as sent (points into the kvlist); NULL if absent */
	size_t       len;
	int64_t      i64;      /* INT64, UINT, ENUM index, DATE days, DATETIME epoch ms */
	int          b;        /* BOOL */
	struct { int y, m, d; } date;  /* DATE */
	const char  *reason;   /* static text when !valid and (present or required): why */
};

/*
 * Validate one value against a field definition (used by http_validate, and by handlers for JSON
 * members or the extra occurrences of a MULTI field). Fills v's typed members and reason.
 * Returns 1 valid, 0 invalid. Empty-value rules are http_validate's, not this function's.
 */
int http_validate_one(const struct http_field *f, const char *s, size_t len, struct http_value *v);

/*
 * Validate the pairs of in against fields[0..n): out[i] describes fields[i] (all n entries are reset).
 * Unknown keys are ignored. Returns how many fields are problems (present but invalid, or required and
 * missing); 0 means the handler may use every present value.
 */
size_t http_validate(const struct http_field *fields, size_t n, const struct kvlist *in,
	struct http_value *out);

/* 1 if s looks like an IANA zone name (syntax only: existence is the database's business). */
int http_tz_name_valid(const char *s, size_t len);

#endif
