/* test_parse.c: query/form/cookie/JSON parsers, validators, UTF-8 and RFC 3339 helpers (src/http/parse.c,
 * src/util/tbtime.c). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/parse.h"
#include "util/buf.h"
#include "util/limits.h"
#include "util/tbtime.h"

#include "check.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
contains(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

/* A string of n copies of c, malloc'ed (the caller frees). */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_pct_decode(void)
{
	struct arena a = ARENA_INIT;
	char *out = NULL;
	size_t n = 0;

	CHECK_INT(http_pct_decode(&a, "a%20b+c", 7, 1, &out, &n), HTTP_POK);
	CHECK_STR(out, "a b c");
	CHECK_INT(n, 5);
	CHECK_INT(http_pct_decode(&a, "a%20b+c", 7, 0, &out, &n), HTTP_POK);
	CHECK_STR(out, "a b+c");
	CHECK_INT(http_pct_decode(&a, "%C3%a9", 6, 1, &out, &n), HTTP_POK);
	CHECK_STR(out, "\xc3\xa9");
	CHECK_INT(http_pct_decode(&a, "%2B%25", 6, 1, &out, &n), HTTP_POK);
	CHECK_STR(out, "+%");
	CHECK_INT(http_pct_decode(&a, "", 0, 1, &out, &n), HTTP_POK);
	CHECK_STR(out, "");
	CHECK_INT(http_pct_decode(&a, "%zz", 3, 1, &out, &n), HTTP_PERR_ESCAPE);
	CHECK_INT(http_pct_decode(&a, "%4", 2, 1, &out, &n), HTTP_PERR_ESCAPE);
	CHECK_INT(http_pct_decode(&a, "a%", 2, 1, &out, &n), HTTP_PERR_ESCAPE);
	CHECK_INT(http_pct_decode(&a, "%4g", 3, 1, &out, &n), HTTP_PERR_ESCAPE);
	CHECK_INT(http_pct_decode(&a, "a%00b", 5, 1, &out, &n), HTTP_PERR_NUL);
	CHECK_INT(http_pct_decode(&a, "a\0b", 3, 1, &out, &n), HTTP_PERR_NUL);
	arena_free(&a);
}

static void
test_urlencoded(void)
{
	struct arena a = ARENA_INIT;
	struct kvlist l;
	const struct kv *kv;
	const char *err = NULL;
	size_t pos;
	char *s, *big;
	size_t i;

	CHECK_INT(http_parse_urlencoded(&a, "a=1&b=x+y%21&a=3", 16, 10, &l, &err), HTTP_POK);
	CHECK(err == NULL);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.v[0].key, "a");
	CHECK_STR(l.v[0].val, "1");
	CHECK_STR(l.v[1].key, "b");
	CHECK_STR(l.v[1].val, "x y!");
	CHECK_INT(l.v[1].vlen, 4);
	CHECK_STR(l.v[2].val, "3");
	/* Duplicates kept, in order. */
	kv = http_kv_get(&l, "a");
	CHECK(kv != NULL && strcmp(kv->val, "1") == 0);
	pos = 0;
	CHECK(http_kv_next(&l, "a", &pos) == &l.v[0]);
	CHECK(http_kv_next(&l, "a", &pos) == &l.v[2]);
	CHECK(http_kv_next(&l, "a", &pos) == NULL);
	CHECK(http_kv_get(&l, "zz") == NULL);

	/* Empty pieces skipped, a bare name has an empty value, an empty name is skipped. */
	CHECK_INT(http_parse_urlencoded(&a, "&&flag&=x&b=&", 13, 10, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.v[0].key, "flag");
	CHECK_STR(l.v[0].val, "");
	CHECK_STR(l.v[1].key, "b");
	CHECK_STR(l.v[1].val, "");
	CHECK_INT(http_parse_urlencoded(&a, "", 0, 10, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 0);
	CHECK_INT(http_parse_urlencoded(&a, NULL, 5, 10, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 0);
	/* Only the first '=' splits. */
	CHECK_INT(http_parse_urlencoded(&a, "k=a=b", 5, 10, &l, &err), HTTP_POK);
	CHECK_STR(l.v[0].val, "a=b");
	/* Escaped names. */
	CHECK_INT(http_parse_urlencoded(&a, "a%5Bb%5D=1", 10, 10, &l, &err), HTTP_POK);
	CHECK_STR(l.v[0].key, "a[b]");

	/* Bad escapes name the field. */
	CHECK_INT(http_parse_urlencoded(&a, "ok=1&q=50%zz", 12, 10, &l, &err), HTTP_PERR_ESCAPE);
	CHECK_INT(l.n, 0);
	CHECK(contains(err, "'q'"));
	CHECK(contains(err, "percent-escape"));
	CHECK(contains(err, "value"));
	CHECK_INT(http_parse_urlencoded(&a, "ok=1&q%=1", 9, 10, &l, &err), HTTP_PERR_ESCAPE);
	CHECK(contains(err, "field #2"));
	CHECK(contains(err, "name"));
	CHECK_INT(http_parse_urlencoded(&a, "q=%00", 5, 10, &l, &err), HTTP_PERR_NUL);
	CHECK(contains(err, "'q'"));
	CHECK_INT(http_parse_urlencoded(&a, "q=a\0b", 5, 10, &l, &err), HTTP_PERR_NUL);
	CHECK(err != NULL);

	/* Too many fields: max_pairs is exact. */
	CHECK_INT(http_parse_urlencoded(&a, "a&b&c", 5, 3, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 3);
	CHECK_INT(http_parse_urlencoded(&a, "a&b&c&d", 7, 3, &l, &err), HTTP_PERR_TOOMANY);
	CHECK(contains(err, "4 fields"));
	CHECK(contains(err, "limit of 3"));

	/* Name length: LIMIT_FIELD_NAME_MAX ok, one more fails, measured after decoding. */
	s = repeat('k', LIMIT_FIELD_NAME_MAX + 1);
	CHECK_INT(http_parse_urlencoded(&a, s, LIMIT_FIELD_NAME_MAX, 10, &l, &err), HTTP_POK);
	CHECK_INT(http_parse_urlencoded(&a, s, LIMIT_FIELD_NAME_MAX + 1, 10, &l, &err), HTTP_PERR_NAMELEN);
	CHECK(contains(err, "name longer than"));
	CHECK(contains(err, "...")); /* the quoted name is truncated */
	free(s);

	/* Value length: LIMIT_FIELD_VALUE_MAX ok, one more fails, measured after decoding. */
	big = malloc(LIMIT_FIELD_VALUE_MAX * 3 + 16);
	if (big == NULL)
		abort();
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', LIMIT_FIELD_VALUE_MAX + 1);
	CHECK_INT(http_parse_urlencoded(&a, big, 2 + LIMIT_FIELD_VALUE_MAX, 10, &l, &err), HTTP_POK);
	CHECK_INT(l.v[0].vlen, LIMIT_FIELD_VALUE_MAX);
	CHECK_INT(http_parse_urlencoded(&a, big, 3 + LIMIT_FIELD_VALUE_MAX, 10, &l, &err),
	    HTTP_PERR_VALUELEN);
	CHECK(contains(err, "field 'v': value longer than"));
	/* %41 is three bytes on the wire and one decoded: 8192 of them fit. */
	for (i = 0; i < LIMIT_FIELD_VALUE_MAX; i++)
		memcpy(big + 2 + 3 * i, "%41", 3);
	CHECK_INT(http_parse_urlencoded(&a, big, 2 + 3 * LIMIT_FIELD_VALUE_MAX, 10, &l, &err), HTTP_POK);
	CHECK_INT(l.v[0].vlen, LIMIT_FIELD_VALUE_MAX);
	free(big);

	/* A hostile name is quoted printable in the message. */
	CHECK_INT(http_parse_urlencoded(&a, "%0A%1B'x=%", 10, 10, &l, &err), HTTP_PERR_ESCAPE);
	CHECK(contains(err, "'???x'"));

	/* Err may be NULL. */
	CHECK_INT(http_parse_urlencoded(&a, "q=%", 3, 10, &l, NULL), HTTP_PERR_ESCAPE);
	arena_free(&a);
}

static void
test_query_form(void)
{
	struct arena a = ARENA_INIT;
	struct kvlist l;
	const char *err;
	char *s;
	size_t i;

	CHECK_INT(http_parse_query(&a, NULL, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 0);
	CHECK_INT(http_parse_query(&a, "page=2&sort=name", &l, &err), HTTP_POK);
	CHECK_INT(l.n, 2);
	s = repeat('a', LIMIT_QUERY_MAX + 1);
	s[0] = 'q';
	s[1] = '=';
	CHECK_INT(http_parse_query(&a, s, &l, &err), HTTP_PERR_TOOLONG);
	CHECK(contains(err, "query string longer than 4096"));
	s[LIMIT_QUERY_MAX] = '\0';
	CHECK_INT(http_parse_query(&a, s, &l, &err), HTTP_POK);
	free(s);

	/* LIMIT_FIELDS_MAX pairs pass, one more fails. */
	s = malloc(4 * (LIMIT_FIELDS_MAX + 1) + 1);
	if (s == NULL)
		abort();
	for (i = 0; i <= LIMIT_FIELDS_MAX; i++)
		memcpy(s + 4 * i, "a=1&", 4);
	s[4 * LIMIT_FIELDS_MAX - 1] = '\0';
	CHECK_INT(http_parse_query(&a, s, &l, &err), HTTP_POK);
	CHECK_INT(l.n, LIMIT_FIELDS_MAX);
	s[4 * LIMIT_FIELDS_MAX - 1] = '&';
	s[4 * (LIMIT_FIELDS_MAX + 1) - 1] = '\0';
	CHECK_INT(http_parse_query(&a, s, &l, &err), HTTP_PERR_TOOMANY);
	CHECK_INT(http_parse_form(&a, s, strlen(s), &l, &err), HTTP_PERR_TOOMANY);
	free(s);

	CHECK_INT(http_parse_form(&a, "name=J%C3%BCrgen+X&tz=Europe%2FBerlin", 37, &l, &err), HTTP_POK);
	CHECK_STR(http_kv_get(&l, "name")->val, "J\xc3\xbcrgen X");
	CHECK_STR(http_kv_get(&l, "tz")->val, "Europe/Berlin");
	/* The size check comes before any read. */
	CHECK_INT(http_parse_form(&a, "", LIMIT_FORM_BODY_MAX + 1, &l, &err), HTTP_PERR_TOOLONG);
	CHECK(contains(err, "form body of 65537 bytes is over the limit of 65536"));
	arena_free(&a);
}

static void
test_cookies(void)
{
	struct arena a = ARENA_INIT;
	struct kvlist l;
	const char *err;
	char *s;
	size_t i;

	CHECK_INT(http_parse_cookies(&a, NULL, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 0);
	CHECK_INT(http_parse_cookies(&a, "", &l, &err), HTTP_POK);
	CHECK_INT(l.n, 0);
	CHECK_INT(http_parse_cookies(&a, "sid=abc; theme=\"dark\"; x=%41", &l, &err), HTTP_POK);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.v[0].key, "sid");
	CHECK_STR(l.v[0].val, "abc");
	CHECK_STR(l.v[1].val, "dark");
	CHECK_INT(l.v[1].vlen, 4);
	CHECK_STR(l.v[2].val, "%41");  /* no percent-decoding */
	/* No space after ';', whitespace around '=' and at the ends, empty pieces. */
	CHECK_INT(http_parse_cookies(&a, "  a=1;b=2 ;; c = 3 ;", &l, &err), HTTP_POK);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.v[1].key, "b");
	CHECK_STR(l.v[1].val, "2");
	CHECK_STR(l.v[2].key, "c");
	CHECK_STR(l.v[2].val, "3");
	/* Empty values and "" are values. */
	CHECK_INT(http_parse_cookies(&a, "e=; q=\"\"", &l, &err), HTTP_POK);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.v[0].val, "");
	CHECK_STR(l.v[1].val, "");
	/* Malformed pairs are skipped, the rest is kept. */
	CHECK_INT(http_parse_cookies(&a,
	    "noeq; =x; b@d=1; ok=1; q=\"unbalanced; sp=a b; dq=a\"b; bs=a\\b; cm=a,b; "
	    "ctl=a\x01; hi=\xc3\xa9; last=2", &l, &err), HTTP_POK);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.v[0].key, "ok");
	CHECK_STR(l.v[1].key, "last");
	/* Duplicates kept in header order (the most specific path comes first). */
	CHECK_INT(http_parse_cookies(&a, "sid=first; sid=second", &l, &err), HTTP_POK);
	CHECK_INT(l.n, 2);
	CHECK_STR(http_kv_get(&l, "sid")->val, "first");
	/* A name over LIMIT_FIELD_NAME_MAX is malformed: skipped. */
	s = repeat('n', LIMIT_FIELD_NAME_MAX + 3);
	s[LIMIT_FIELD_NAME_MAX + 1] = '=';
	s[LIMIT_FIELD_NAME_MAX + 2] = 'v';
	CHECK_INT(http_parse_cookies(&a, s, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 0);
	free(s);
	/* Limits fail the header. */
	s = repeat('x', LIMIT_COOKIE_MAX + 1);
	s[0] = 'a';
	s[1] = '=';
	CHECK_INT(http_parse_cookies(&a, s, &l, &err), HTTP_PERR_TOOLONG);
	CHECK(contains(err, "Cookie header longer than 4096"));
	s[LIMIT_COOKIE_MAX] = '\0';
	CHECK_INT(http_parse_cookies(&a, s, &l, &err), HTTP_POK);
	CHECK_INT(l.n, 1);
	free(s);
	s = malloc(5 * (LIMIT_FIELDS_MAX + 1) + 1);
	if (s == NULL)
		abort();
	for (i = 0; i <= LIMIT_FIELDS_MAX; i++)
		memcpy(s + 5 * i, "a=1; ", 5);
	s[5 * LIMIT_FIELDS_MAX] = '\0';
	CHECK_INT(http_parse_cookies(&a, s, &l, &err), HTTP_POK);
	CHECK_INT(l.n, LIMIT_FIELDS_MAX);
	s[5 * LIMIT_FIELDS_MAX] = 'a';
	s[5 * (LIMIT_FIELDS_MAX + 1)] = '\0';
	CHECK_INT(http_parse_cookies(&a, s, &l, &err), HTTP_PERR_TOOMANY);
	CHECK(contains(err, "65 cookies"));
	free(s);
	arena_free(&a);
}

/* n nested arrays: "[[[...]]]" */
static char *
nested(size_t n, char open, char close)
{
	char *s = malloc(2 * n + 1);
	size_t i;

	if (s == NULL)
		abort();
	for (i = 0; i < n; i++) {
		s[i] = open;
		s[2 * n - 1 - i] = close;
	}
	s[2 * n] = '\0';
	return s;
}

static void
test_json(void)
{
	char err[256], *big;
	const char *s;
	json_t *j = NULL;

	CHECK_INT(http_parse_json_body("{\"a\":1,\"b\":[true,null]}", 23, &j, err, sizeof(err)), HTTP_POK);
	CHECK(json_is_object(j));
	CHECK_INT(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
	CHECK_INT(http_parse_json_body("[1,2]", 5, &j, err, sizeof(err)), HTTP_POK);
	CHECK(json_is_array(j));
	json_decref(j);

	CHECK_INT(http_parse_json_body("{\"a\":1,\"a\":2}", 13, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK(j == NULL);
	CHECK(contains(err, "duplicate"));
	CHECK(contains(err, "line 1"));
	CHECK_INT(http_parse_json_body("{\"a\":\n  1,}", 11, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK(contains(err, "malformed JSON at line 2, column"));
	CHECK_INT(http_parse_json_body("{", 1, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK_INT(http_parse_json_body("", 0, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK_INT(http_parse_json_body(NULL, 0, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK_INT(http_parse_json_body("42", 2, &j, err, sizeof(err)), HTTP_PERR_JSON);  /* not object/array */
	CHECK_INT(http_parse_json_body("{} x", 4, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK_INT(http_parse_json_body("{\"a\":\"\\u0000\"}", 14, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK_INT(http_parse_json_body("{\"a\":\"\xff\"}", 9, &j, err, sizeof(err)), HTTP_PERR_JSON);
	/* jansson quotes the bad input; the message stays printable ASCII. */
	CHECK_INT(http_parse_json_body("{\"a\":\xc3\xa9\x01}", 9, &j, err, sizeof(err)), HTTP_PERR_JSON);
	CHECK(contains(err, "malformed JSON at line 1"));
	for (s = err; *s != '\0' && *s >= 0x20 && *s < 0x7f; s++)
		continue;
	CHECK(*s == '\0');
	CHECK_INT(http_parse_json_body("{\"a\":1}\0", 8, &j, err, sizeof(err)), HTTP_PERR_JSON);

	/* Depth: exactly LIMIT_JSON_DEPTH_MAX passes, one more is refused before jansson runs. */
	big = nested(LIMIT_JSON_DEPTH_MAX, '[', ']');
	CHECK_INT(http_parse_json_body(big, strlen(big), &j, err, sizeof(err)), HTTP_POK);
	json_decref(j);
	free(big);
	big = nested(LIMIT_JSON_DEPTH_MAX + 1, '[', ']');
	CHECK_INT(http_parse_json_body(big, strlen(big), &j, err, sizeof(err)), HTTP_PERR_DEPTH);
	CHECK(j == NULL);
	CHECK(contains(err, "deeper than 32"));
	free(big);
	big = nested(100000, '{', '}');  /* far past jansson's own 2048 */
	CHECK_INT(http_parse_json_body(big, strlen(big), &j, err, sizeof(err)), HTTP_PERR_DEPTH);
	free(big);
	/* Brackets inside strings, with escaped quotes, do not count. */
	s = "{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{\", \"b\": \"\\\\\"}";
	CHECK_INT(http_parse_json_body(s, strlen(s), &j, err, sizeof(err)), HTTP_POK);
	CHECK_STR(json_string_value(json_object_get(j, "b")), "\\");
	json_decref(j);

	/* Size: refused before reading. */
	big = calloc(1, LIMIT_BODY_MAX + 2);
	if (big == NULL)
		abort();
	CHECK_INT(http_parse_json_body(big, LIMIT_BODY_MAX + 1, &j, err, sizeof(err)), HTTP_PERR_TOOLONG);
	CHECK(contains(err, "over the limit"));
	free(big);

	/* A tiny error buffer is fine. */
	CHECK_INT(http_parse_json_body("{", 1, &j, err, 4), HTTP_PERR_JSON);
	CHECK_INT(strlen(err), 3);
}

static void
test_utf8(void)
{
	uint32_t cp = 0;

	CHECK(http_utf8_valid("", 0));
	CHECK(http_utf8_valid("plain ascii", 11));
	CHECK(http_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));   /* é € 😀 */
	CHECK(http_utf8_valid("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7));           /* U+FFFF, U+10FFFF */
	CHECK(!http_utf8_valid("\xc3", 1));                                  /* truncated */
	CHECK(!http_utf8_valid("\xe2\x82", 2));
	CHECK(!http_utf8_valid("\xc0\xaf", 2));                              /* overlong '/' */
	CHECK(!http_utf8_valid("\xc1\xbf", 2));
	CHECK(!http_utf8_valid("\xe0\x80\xaf", 3));
	CHECK(!http_utf8_valid("\xf0\x80\x80\xaf", 4));
	CHECK(!http_utf8_valid("\xed\xa0\x80", 3));                          /* surrogate */
	CHECK(!http_utf8_valid("\xf4\x90\x80\x80", 4));                      /* > U+10FFFF */
	CHECK(!http_utf8_valid("\xf5\x80\x80\x80", 4));
	CHECK(!http_utf8_valid("\x80", 1));
	CHECK(!http_utf8_valid("\xff", 1));
	CHECK(!http_utf8_valid("a\xc3(", 3));
	CHECK_INT(http_utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
	CHECK_INT(cp, 0x20ac);
	CHECK_INT(http_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
	CHECK_INT(cp, 0x1f600);
	CHECK_INT(http_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 3, &cp), 0);
}

static void
test_time(void)
{
	char out[TB_RFC3339_SIZE];
	int64_t ms = 0, t0, t1;
	int y = 0, m = 0, d = 0, i;
	int64_t yy;

	CHECK_INT(tb_parse_rfc3339("1970-01-01T00:00:00Z", &ms), 0);
	CHECK_INT(ms, 0);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05Z", &ms), 0);
	CHECK_INT(ms, 1704164645000LL);
	CHECK_INT(tb_parse_rfc3339("2024-01-02t03:04:05z", &ms), 0);
	CHECK_INT(ms, 1704164645000LL);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T05:04:05+02:00", &ms), 0);
	CHECK_INT(ms, 1704164645000LL);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T01:34:05-01:30", &ms), 0);
	CHECK_INT(ms, 1704164645000LL);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05+00:00", &ms), 0);
	CHECK_INT(ms, 1704164645000LL);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05.1Z", &ms), 0);
	CHECK_INT(ms, 1704164645100LL);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05.123456789Z", &ms), 0);
	CHECK_INT(ms, 1704164645123LL);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05.999999+01:00", &ms), 0);
	CHECK_INT(ms, 1704164645999LL - 3600000);
	CHECK_INT(tb_parse_rfc3339("1969-12-31T23:59:59.500Z", &ms), 0);
	CHECK_INT(ms, -500);
	CHECK_INT(tb_parse_rfc3339("2024-02-29T00:00:00Z", &ms), 0);
	CHECK_INT(tb_parse_rfc3339("2000-02-29T00:00:00Z", &ms), 0);
	CHECK_INT(tb_parse_rfc3339("0000-01-01T00:00:00Z", &ms), 0);
	CHECK_INT(ms, -62167219200000LL);
	CHECK_INT(tb_parse_rfc3339("9999-12-31T23:59:59Z", &ms), 0);
	CHECK_INT(ms, 253402300799000LL);

	ms = 42;
	CHECK_INT(tb_parse_rfc3339("2023-02-29T00:00:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("1900-02-29T00:00:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-04-31T00:00:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-13-01T00:00:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-00-01T00:00:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-00T00:00:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T24:00:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T23:60:00Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T23:59:60Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02 03:04:05Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05.Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05.1234567890Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05+2:00", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05+0200", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05+24:00", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05+01:60", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-01-02T03:04:05Zjunk", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024-1-02T03:04:05Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("+2024-01-02T03:04:05Z", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("", &ms), -1);
	CHECK_INT(tb_parse_rfc3339("2024", &ms), -1);
	CHECK_INT(ms, 42);  /* untouched on failure */

	CHECK_INT(tb_format_rfc3339(0, out), 0);
	CHECK_STR(out, "1970-01-01T00:00:00Z");
	CHECK_INT(tb_format_rfc3339(1704164645, out), 0);
	CHECK_STR(out, "2024-01-02T03:04:05Z");
	CHECK_INT(tb_format_rfc3339(-1, out), 0);
	CHECK_STR(out, "1969-12-31T23:59:59Z");
	CHECK_INT(tb_format_rfc3339(951782400, out), 0);
	CHECK_STR(out, "2000-02-29T00:00:00Z");
	CHECK_INT(tb_format_rfc3339(253402300799LL, out), 0);
	CHECK_STR(out, "9999-12-31T23:59:59Z");
	CHECK_INT(tb_format_rfc3339(253402300800LL, out), -1);
	CHECK_STR(out, "");
	CHECK_INT(tb_format_rfc3339(-62167219201LL, out), -1);
	CHECK_INT(tb_format_rfc3339(INT64_MIN / 1000, out), -1);
	CHECK_INT(tb_format_rfc3339(INT64_MAX / 1000, out), -1);

	/* Round trips over 400 years of days at odd times. */
	for (i = 0, t0 = -2208988800LL; i < 2000 && t0 < 253402300799LL; i++, t0 += 86400LL * 73 + 3607) {
		if (tb_format_rfc3339(t0, out) != 0 || tb_parse_rfc3339(out, &ms) != 0 || ms != t0 * 1000)
			break;
	}
	CHECK_INT(i, 2000);
	for (i = -800000; i <= 800000; i += 997) {
		tb_civil_from_days(i, &yy, &m, &d);
		if (tb_days_from_civil(yy, m, d) != i)
			break;
	}
	CHECK(i > 800000);

	CHECK_INT(tb_parse_date("2024-02-29", &y, &m, &d), 0);
	CHECK_INT(y, 2024);
	CHECK_INT(m, 2);
	CHECK_INT(d, 29);
	CHECK_INT(tb_parse_date("2023-02-29", &y, &m, &d), -1);
	CHECK_INT(tb_parse_date("2024-2-29", &y, &m, &d), -1);
	CHECK_INT(tb_parse_date("2024-02-29T", &y, &m, &d), -1);
	CHECK_INT(tb_parse_date("2024-02", &y, &m, &d), -1);
	CHECK_INT(tb_parse_date("", &y, &m, &d), -1);
	CHECK_INT(tb_days_from_civil(1970, 1, 1), 0);
	CHECK_INT(tb_days_from_civil(2000, 3, 1), 11017);

	t0 = tb_now_ms();
	CHECK(t0 > 1600000000000LL);
	t0 = tb_mono_ms();
	t1 = tb_mono_ms();
	CHECK(t1 >= t0);
}

static const char *const colours[] = { "red", "green", "blue", NULL };

enum f {
	F_NAME, F_TITLE, F_EMAIL, F_N, F_ID, F_FLAG, F_DAY, F_AT, F_TOK, F_TZ, F_COLOUR, F_TAGS, F_REQ,
	F__MAX
};

static const struct http_field fields[F__MAX] = {
	[F_NAME]   = { "name", HTTP_FT_TEXT, 10, 0, NULL, 0, 0 },
	[F_TITLE]  = { "title", HTTP_FT_LINE, 0, 0, NULL, 0, 0 },
	[F_EMAIL]  = { "email", HTTP_FT_EMAIL, 0, 0, NULL, 0, 0 },
	[F_N]      = { "n", HTTP_FT_INT64, 0, 0, NULL, -5, 5 },
	[F_ID]     = { "id", HTTP_FT_UINT, 0, 0, NULL, 0, 0 },
	[F_FLAG]   = { "flag", HTTP_FT_BOOL, 0, 0, NULL, 0, 0 },
	[F_DAY]    = { "day", HTTP_FT_DATE, 0, 0, NULL, 0, 0 },
	[F_AT]     = { "at", HTTP_FT_DATETIME, 0, 0, NULL, 0, 0 },
	[F_TOK]    = { "tok", HTTP_FT_TOKEN, 0, 0, NULL, 0, 0 },
	[F_TZ]     = { "tz", HTTP_FT_TZ, 64, 0, NULL, 0, 0 },
	[F_COLOUR] = { "colour", HTTP_FT_ENUM, 0, 0, colours, 0, 0 },
	[F_TAGS]   = { "tag", HTTP_FT_UINT, 0, HTTP_FIELD_MULTI, NULL, 0, 0 },
	[F_REQ]    = { "req", HTTP_FT_TEXT, 0, HTTP_FIELD_REQUIRED, NULL, 0, 0 },
};

/* Validate a query string against fields; returns the problem count. */
static size_t
validate_qs(struct arena *a, const char *qs, struct http_value *out)
{
	struct kvlist l;
	const char *err;

	if (http_parse_query(a, qs, &l, &err) != HTTP_POK) {
		fprintf(stderr, "unexpected parse error: %s\n", err);
		return 999;
	}
	return http_validate(fields, F__MAX, &l, out);
}

/* Validate one value of one type; returns validity. */
static int
one(enum http_ftype type, const char *s)
{
	struct http_field f = { "x", type, 0, 0, colours, 0, 0 };
	struct http_value v;

	return http_validate_one(&f, s, strlen(s), &v);
}

/* A NULL value (a JSON member that is not a string) validates as the empty string. */
static void
test_validate_null(void)
{
	struct http_field f = { "x", HTTP_FT_TEXT, 0, 0, NULL, 0, 0 };
	struct http_value v;

	CHECK(http_validate_one(&f, NULL, 5, &v));
	CHECK_STR(v.s, "");
	CHECK_INT(v.len, 0);
	f.type = HTTP_FT_UINT;
	CHECK(!http_validate_one(&f, NULL, 0, &v));
}

static void
test_validate(void)
{
	struct arena a = ARENA_INIT;
	struct http_value v[F__MAX];
	const struct kv *kv;
	struct kvlist l;
	const char *err;
	size_t pos;

	CHECK_INT(validate_qs(&a, "name=Ann&title=Boss&email=a%40b.example&n=-5&id=9223372036854775807"
	    "&flag=On&day=2024-02-29&at=2024-01-02T03%3A04%3A05Z&tok=ab_-9Z&tz=America%2FNew_York"
	    "&colour=blue&tag=1&tag=2&req=x&unknown=%3Cscript%3E", v), 0);
	CHECK(v[F_NAME].present && v[F_NAME].valid);
	CHECK_STR(v[F_NAME].s, "Ann");
	CHECK_INT(v[F_NAME].len, 3);
	CHECK(v[F_TITLE].valid);
	CHECK(v[F_EMAIL].valid);
	CHECK_INT(v[F_N].i64, -5);
	CHECK_INT(v[F_ID].i64, INT64_MAX);
	CHECK_INT(v[F_FLAG].b, 1);
	CHECK_INT(v[F_DAY].date.y, 2024);
	CHECK_INT(v[F_DAY].date.m, 2);
	CHECK_INT(v[F_DAY].date.d, 29);
	CHECK_INT(v[F_DAY].i64, tb_days_from_civil(2024, 2, 29));
	CHECK_INT(v[F_AT].i64, 1704164645000LL);
	CHECK(v[F_TOK].valid);
	CHECK(v[F_TZ].valid);
	CHECK_INT(v[F_COLOUR].i64, 2);
	CHECK(v[F_TAGS].valid);
	CHECK_INT(v[F_TAGS].count, 2);
	CHECK_INT(v[F_TAGS].i64, 1);  /* the first; the handler iterates the list for the rest */
	CHECK(v[F_REQ].valid);

	/* Nothing given: only the required field is a problem. */
	CHECK_INT(validate_qs(&a, "", v), 1);
	CHECK(!v[F_NAME].present && !v[F_NAME].valid && v[F_NAME].reason == NULL);
	CHECK(!v[F_REQ].present);
	CHECK_STR(v[F_REQ].reason, "missing");
	/* Required text given empty is missing too. */
	CHECK_INT(validate_qs(&a, "req=", v), 1);
	CHECK_STR(v[F_REQ].reason, "missing");

	/* Empty text is a value; an empty typed field is "not given". */
	CHECK_INT(validate_qs(&a, "req=1&name=&n=&day=&flag=", v), 0);
	CHECK(v[F_NAME].present && v[F_NAME].valid && v[F_NAME].len == 0);
	CHECK(!v[F_N].present && !v[F_DAY].present && !v[F_FLAG].present);

	/* Invalid values are kept apart, with a reason; valid ones are still usable. */
	CHECK_INT(validate_qs(&a, "req=1&name=0123456789A&title=a%0Ab&email=nope&n=6&id=-1&flag=maybe"
	    "&day=2023-02-29&at=2024-01-02&tok=a%2Bb&tz=..%2Fetc&colour=Blue&tag=1&tag=x", v), 12);
	CHECK(v[F_NAME].present && !v[F_NAME].valid);
	CHECK_STR(v[F_NAME].reason, "too long");
	CHECK_STR(v[F_NAME].s, "0123456789A");  /* the raw value stays visible for the form's redisplay */
	CHECK_STR(v[F_TITLE].reason, "must be a single line");
	CHECK_STR(v[F_EMAIL].reason, "not a valid e-mail address");
	CHECK_STR(v[F_N].reason, "out of range");
	CHECK_STR(v[F_ID].reason, "not a whole number in range");
	CHECK_STR(v[F_FLAG].reason, "not a yes/no value");
	CHECK_STR(v[F_DAY].reason, "not a date (YYYY-MM-DD)");
	CHECK_STR(v[F_AT].reason, "not an RFC 3339 date-time");
	CHECK_STR(v[F_TOK].reason, "not a token");
	CHECK_STR(v[F_TZ].reason, "not a time zone name");
	CHECK_STR(v[F_COLOUR].reason, "not one of the allowed values");
	CHECK(!v[F_TAGS].valid && v[F_TAGS].count == 2);
	CHECK(v[F_REQ].valid);

	/* A single-valued field given twice is refused rather than guessed. */
	CHECK_INT(validate_qs(&a, "req=1&n=1&n=2", v), 1);
	CHECK(v[F_N].present && !v[F_N].valid);
	CHECK_STR(v[F_N].reason, "given more than once");
	CHECK_INT(v[F_N].count, 2);

	/* MULTI: every occurrence is validated, iterate the kvlist to read them. */
	CHECK_INT(http_parse_query(&a, "tag=3&x=1&tag=4&tag=5&req=r", &l, &err), HTTP_POK);
	CHECK_INT(http_validate(fields, F__MAX, &l, v), 0);
	CHECK_INT(v[F_TAGS].count, 3);
	pos = 0;
	kv = http_kv_next(&l, "tag", &pos);
	CHECK(kv != NULL && strcmp(kv->val, "3") == 0);
	kv = http_kv_next(&l, "tag", &pos);
	CHECK(kv != NULL && strcmp(kv->val, "4") == 0);
	CHECK(http_validate(fields, F__MAX, NULL, v) == 1);

	/* Text: UTF-8 and controls. */
	CHECK(one(HTTP_FT_TEXT, "line1\r\n\tline2 \xc3\xa9\xe2\x82\xac"));
	CHECK(!one(HTTP_FT_TEXT, "a\x01"));
	CHECK(!one(HTTP_FT_TEXT, "a\x7f"));
	CHECK(!one(HTTP_FT_TEXT, "a\xc2\x85"));  /* U+0085 NEL, a C1 control */
	CHECK(!one(HTTP_FT_TEXT, "a\xc3"));
	CHECK(!one(HTTP_FT_TEXT, "\xed\xa0\x80"));
	CHECK(one(HTTP_FT_LINE, "one line \xc3\xa9"));
	CHECK(!one(HTTP_FT_LINE, "a\tb"));
	{
		struct http_field f = { "x", HTTP_FT_TEXT, 0, 0, NULL, 0, 0 };
		struct http_value val;

		CHECK(!http_validate_one(&f, "a\0b", 3, &val));
		CHECK_STR(val.reason, "contains a NUL byte");
	}

	/* E-mail: the WHATWG definition. */
	CHECK(one(HTTP_FT_EMAIL, "a@b.c"));
	CHECK(one(HTTP_FT_EMAIL, "admin@localhost"));
	CHECK(one(HTTP_FT_EMAIL, "first.last+tag@mail.example.co.uk"));
	CHECK(one(HTTP_FT_EMAIL, "o'brien@x-y.example"));
	CHECK(one(HTTP_FT_EMAIL, "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"));  /* 63 */
	CHECK(!one(HTTP_FT_EMAIL, "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com")); /* 64 */
	CHECK(!one(HTTP_FT_EMAIL, ""));
	CHECK(!one(HTTP_FT_EMAIL, "@b.com"));
	CHECK(!one(HTTP_FT_EMAIL, "a@"));
	CHECK(!one(HTTP_FT_EMAIL, "a@-b.com"));
	CHECK(!one(HTTP_FT_EMAIL, "a@b-.com"));
	CHECK(!one(HTTP_FT_EMAIL, "a@b..com"));
	CHECK(!one(HTTP_FT_EMAIL, "a@b.com."));
	CHECK(!one(HTTP_FT_EMAIL, "a@.b.com"));
	CHECK(!one(HTTP_FT_EMAIL, "a b@c.d"));
	CHECK(!one(HTTP_FT_EMAIL, "a@b@c.d"));
	CHECK(!one(HTTP_FT_EMAIL, "a@b_c.d"));
	CHECK(!one(HTTP_FT_EMAIL, "\"a\"@b.c"));
	CHECK(!one(HTTP_FT_EMAIL, "<script>@b.c"));

	/* Integers. */
	CHECK(one(HTTP_FT_INT64, "-9223372036854775808"));
	CHECK(one(HTTP_FT_INT64, "9223372036854775807"));
	CHECK(one(HTTP_FT_INT64, "007"));
	CHECK(!one(HTTP_FT_INT64, "-9223372036854775809"));
	CHECK(!one(HTTP_FT_INT64, "9223372036854775808"));
	CHECK(!one(HTTP_FT_INT64, "99999999999999999999999"));
	CHECK(!one(HTTP_FT_INT64, "-"));
	CHECK(!one(HTTP_FT_INT64, "+1"));
	CHECK(!one(HTTP_FT_INT64, " 1"));
	CHECK(!one(HTTP_FT_INT64, "1 "));
	CHECK(!one(HTTP_FT_INT64, "1e3"));
	CHECK(!one(HTTP_FT_INT64, "0x10"));
	CHECK(!one(HTTP_FT_UINT, "-1"));
	CHECK(one(HTTP_FT_UINT, "0"));
	{
		struct http_field f = { "x", HTTP_FT_INT64, 0, 0, NULL, 0, 0 };
		struct http_value val;

		CHECK(http_validate_one(&f, "-9223372036854775808", 20, &val));
		CHECK(val.i64 == INT64_MIN);
	}

	/* Booleans. */
	CHECK(one(HTTP_FT_BOOL, "1") && one(HTTP_FT_BOOL, "TRUE") && one(HTTP_FT_BOOL, "off") &&
	    one(HTTP_FT_BOOL, "No"));
	CHECK(!one(HTTP_FT_BOOL, "2") && !one(HTTP_FT_BOOL, "tru") && !one(HTTP_FT_BOOL, "truex") &&
	    !one(HTTP_FT_BOOL, ""));

	/* Dates. */
	CHECK(one(HTTP_FT_DATE, "1999-12-31"));
	CHECK(!one(HTTP_FT_DATE, "1999-12-31T00:00:00Z"));
	CHECK(!one(HTTP_FT_DATE, "99-12-31"));
	CHECK(one(HTTP_FT_DATETIME, "1999-12-31T23:59:59.5-08:00"));
	CHECK(!one(HTTP_FT_DATETIME, "1999-12-31T23:59:59.5-08:00xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));

	/* Tokens. */
	CHECK(one(HTTP_FT_TOKEN, "AZaz09-_"));
	CHECK(!one(HTTP_FT_TOKEN, ""));
	CHECK(!one(HTTP_FT_TOKEN, "abc="));
	CHECK(!one(HTTP_FT_TOKEN, "a/b"));
	CHECK(!one(HTTP_FT_TOKEN, "a b"));

	/* Time zone names. */
	CHECK(one(HTTP_FT_TZ, "UTC"));
	CHECK(one(HTTP_FT_TZ, "Europe/Paris"));
	CHECK(one(HTTP_FT_TZ, "America/Argentina/Buenos_Aires"));
	CHECK(one(HTTP_FT_TZ, "America/Port-au-Prince"));
	CHECK(one(HTTP_FT_TZ, "Etc/GMT+5"));
	CHECK(one(HTTP_FT_TZ, "Etc/GMT-14"));
	CHECK(one(HTTP_FT_TZ, "EST5EDT"));
	CHECK(!one(HTTP_FT_TZ, ""));
	CHECK(!one(HTTP_FT_TZ, "../etc/passwd"));
	CHECK(!one(HTTP_FT_TZ, "Europe/../../etc"));
	CHECK(!one(HTTP_FT_TZ, "Europe/."));
	CHECK(!one(HTTP_FT_TZ, "/etc/localtime"));
	CHECK(!one(HTTP_FT_TZ, "Europe//Paris"));
	CHECK(!one(HTTP_FT_TZ, "Europe/"));
	CHECK(!one(HTTP_FT_TZ, "-Europe"));
	CHECK(!one(HTTP_FT_TZ, "Europe/Paris Time"));
	CHECK(!one(HTTP_FT_TZ, "Europe/Abcdefghijklmno"));  /* a 15-byte component */
	CHECK(!one(HTTP_FT_TZ, "Europe\\Paris"));

	/* Enums: exact. */
	CHECK(one(HTTP_FT_ENUM, "green"));
	CHECK(!one(HTTP_FT_ENUM, "gree"));
	CHECK(!one(HTTP_FT_ENUM, "greens"));
	CHECK(!one(HTTP_FT_ENUM, ""));

	arena_free(&a);
}

int
main(void)
{
	test_pct_decode();
	test_urlencoded();
	test_query_form();
	test_cookies();
	test_json();
	test_utf8();
	test_time();
	test_validate();
	test_validate_null();
	return CHECK_DONE("test_parse");
}
