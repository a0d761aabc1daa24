/* parse.c: bounded parsers for query strings, form bodies, cookies and JSON bodies, and typed validators. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "http/parse.h"
#include "util/buf.h"
#include "util/limits.h"
#include "util/tbtime.h"

/* How much of a client-supplied field name goes into an error message. */
#define NAME_IN_MSG_MAX 32

/* A limit macro as a string literal, for fixed messages. */
#define TB_XSTR(x) #x
#define TB_STR(x)  TB_XSTR(x)

static const char *const perr_strs[HTTP_PERR__MAX] = {
	[HTTP_POK]           = "ok",
	[HTTP_PERR_NOMEM]    = "out of memory",
	[HTTP_PERR_TOOLONG]  = "input too long",
	[HTTP_PERR_TOOMANY]  = "too many fields",
	[HTTP_PERR_NAMELEN]  = "field name too long",
	[HTTP_PERR_VALUELEN] = "field value too long",
	[HTTP_PERR_ESCAPE]   = "invalid percent-escape",
	[HTTP_PERR_NUL]      = "NUL byte",
	[HTTP_PERR_JSON]     = "malformed JSON",
	[HTTP_PERR_DEPTH]    = "JSON nested too deeply",
};

const char *
http_perr_str(enum http_perr e)
{
	if ((unsigned)e >= HTTP_PERR__MAX)
		return "unknown error";
	return perr_strs[e];
}

const struct kv *
http_kv_next(const struct kvlist *l, const char *key, size_t *pos)
{
	size_t i;

	for (i = *pos; l != NULL && i < l->n; i++) {
		if (strcmp(l->v[i].key, key) == 0) {
			*pos = i + 1;
			return &l->v[i];
		}
	}
	*pos = l != NULL ? l->n : 0;
	return NULL;
}

const struct kv *
http_kv_get(const struct kvlist *l, const char *key)
{
	size_t pos = 0;

	return http_kv_next(l, key, &pos);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum http_perr
http_pct_decode(struct arena *a, const char *s, size_t len, int plus_is_space, char **out,
	size_t *outlen)
{
	unsigned char c;
	size_t i, j = 0;
	int hi, lo;
	char *d;

	/* Decoding never lengthens, so one allocation of len + 1 is enough. */
	if ((d = arena_alloc(a, len + 1)) == NULL)
		return HTTP_PERR_NOMEM;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (len - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0)
				return HTTP_PERR_ESCAPE;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space)
			c = ' ';
		/* A NUL would silently truncate every C string made from this value further on. */
		if (c == '\0')
			return HTTP_PERR_NUL;
		d[j++] = (char)c;
	}
	d[j] = '\0';
	*out = d;
	*outlen = j;
	return HTTP_POK;
}

/*
 * A client-supplied name made safe to quote in a message: printable ASCII only (others become '?'),
 * at most NAME_IN_MSG_MAX bytes. Arena-owned; a fixed string on OOM.
 */
static const char *
msg_name(struct arena *a, const char *s, size_t len)
{
	size_t i, n = len > NAME_IN_MSG_MAX ? NAME_IN_MSG_MAX : len;
	char *p;

	if ((p = arena_alloc(a, n + 4)) == NULL)
		return "?";
	for (i = 0; i < n; i++)
		p[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'') ? s[i] : '?';
	if (n < len)
		memcpy(p + n, "...", 3);
	return p;
}

/* strnlen() is POSIX; this is the C11 spelling: length of s, or max + 1 if longer than max. */
static size_t
bounded_len(const char *s, size_t max)
{
	size_t i;

	for (i = 0; i <= max && s[i] != '\0'; i++)
		continue;
	return i;
}

enum http_perr
http_parse_urlencoded(struct arena *a, const char *s, size_t len, size_t max_pairs,
	struct kvlist *out, const char **err)
{
	enum http_perr rc = HTTP_POK;
	const char *msg = NULL, *piece, *eq, *end;
	size_t i, npieces = 0, fieldno = 0, klen, kdlen, vdlen;
	struct kv *v = NULL;
	char *k, *val;

	out->v = NULL;
	out->n = 0;
	if (err != NULL)
		*err = NULL;
	if (s == NULL)
		len = 0;
	if (len > 0 && memchr(s, '\0', len) != NULL) {
		rc = HTTP_PERR_NUL;
		msg = "a NUL byte in the input";
		goto fail;
	}

	/* Count the non-empty pieces first so the pair array is allocated once, and bounded. */
	for (i = 0; i < len; i = (size_t)(end - s) + 1) {
		piece = s + i;
		if ((end = memchr(piece, '&', len - i)) == NULL)
			end = s + len;
		if (end > piece)
			npieces++;
	}
	if (npieces > max_pairs) {
		rc = HTTP_PERR_TOOMANY;
		msg = arena_printf(a, "%zu fields, more than the limit of %zu", npieces, max_pairs);
		goto fail;
	}
	if (npieces > 0 && (v = arena_alloc(a, npieces * sizeof(*v))) == NULL) {
		rc = HTTP_PERR_NOMEM;
		goto fail;
	}

	for (i = 0; i < len; i = (size_t)(end - s) + 1) {
		piece = s + i;
		if ((end = memchr(piece, '&', len - i)) == NULL)
			end = s + len;
		if (end == piece)
			continue;
		fieldno++;
		eq = memchr(piece, '=', (size_t)(end - piece));
		klen = (size_t)((eq != NULL ? eq : end) - piece);
		if (klen == 0)
			continue;  /* "=x": nothing could look this up */

		if ((rc = http_pct_decode(a, piece, klen, 1, &k, &kdlen)) != HTTP_POK) {
			msg = arena_printf(a, "field #%zu: %s in the name", fieldno, http_perr_str(rc));
			goto fail;
		}
		if (kdlen > LIMIT_FIELD_NAME_MAX) {
			rc = HTTP_PERR_NAMELEN;
			msg = arena_printf(a, "field #%zu ('%s'): name longer than %d bytes", fieldno,
			    msg_name(a, k, kdlen), LIMIT_FIELD_NAME_MAX);
			goto fail;
		}
		if (eq != NULL)
			rc = http_pct_decode(a, eq + 1, (size_t)(end - eq - 1), 1, &val, &vdlen);
		else
			rc = http_pct_decode(a, "", 0, 1, &val, &vdlen);
		if (rc != HTTP_POK) {
			msg = arena_printf(a, "field '%s': %s in the value", msg_name(a, k, kdlen),
			    http_perr_str(rc));
			goto fail;
		}
		if (vdlen > LIMIT_FIELD_VALUE_MAX) {
			rc = HTTP_PERR_VALUELEN;
			msg = arena_printf(a, "field '%s': value longer than %d bytes", msg_name(a, k, kdlen),
			    LIMIT_FIELD_VALUE_MAX);
			goto fail;
		}
		v[out->n].key = k;
		v[out->n].val = val;
		v[out->n].vlen = vdlen;
		out->n++;
	}
	out->v = v;
	return HTTP_POK;

fail:
	out->n = 0;
	if (err != NULL)
		*err = msg != NULL ? msg : http_perr_str(rc);
	return rc;
}

enum http_perr
http_parse_query(struct arena *a, const char *qs, struct kvlist *out, const char **err)
{
	size_t len = qs != NULL ? bounded_len(qs, LIMIT_QUERY_MAX) : 0;

	if (len > LIMIT_QUERY_MAX) {
		out->v = NULL;
		out->n = 0;
		if (err != NULL)
			*err = "query string longer than " TB_STR(LIMIT_QUERY_MAX) " bytes";
		return HTTP_PERR_TOOLONG;
	}
	return http_parse_urlencoded(a, qs, len, LIMIT_FIELDS_MAX, out, err);
}

enum http_perr
http_parse_form(struct arena *a, const char *body, size_t len, struct kvlist *out, const char **err)
{
	if (len > LIMIT_FORM_BODY_MAX) {
		out->v = NULL;
		out->n = 0;
		if (err != NULL && (*err = arena_printf(a, "form body of %zu bytes is over the limit of %d", len,
		    LIMIT_FORM_BODY_MAX)) == NULL)
			*err = http_perr_str(HTTP_PERR_TOOLONG);
		return HTTP_PERR_TOOLONG;
	}
	return http_parse_urlencoded(a, body, len, LIMIT_FIELDS_MAX, out, err);
}

/* Cookies */

/* RFC 7230 tchar: what a cookie name may be made of. */
static int
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash. */
static int
is_cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
	    (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/*
 * The policy. The Cookie header carries every cookie the browser holds for our host and its parent
 * domains, including cookies set by other applications (analytics, a sibling subdomain) that we neither
 * control nor read. Failing the request on one of those would let any of them lock users out of
 * timebridge, so a malformed pair (no '=', a name that is not an RFC 7230 token or is over
 * LIMIT_FIELD_NAME_MAX, a value with bytes outside RFC 6265 cookie-octet, an unbalanced quote) is
 * skipped and parsing goes on. Our own cookies are tokens we issued, so a skipped one just reads as
 * absent, which the session layer already handles as "not logged in".
 * The named limits still fail the whole header (400): over LIMIT_COOKIE_MAX bytes, or more than
 * LIMIT_FIELDS_MAX pairs (empty pieces do not count; malformed ones do, as they cost work).
 * Optional whitespace around ';' and '=' is tolerated (RFC 6265 section 5.2 trims it). Duplicate names are
 * kept in header order; browsers send the most specific path first, so http_kv_get() finds that one.
 */
enum http_perr
http_parse_cookies(struct arena *a, const char *header, struct kvlist *out, const char **err)
{
	enum http_perr rc = HTTP_POK;
	const char *msg = NULL, *piece, *end, *eq, *ns, *ne, *vs, *ve, *p;
	size_t i, len, npieces = 0;
	struct kv *v = NULL;

	out->v = NULL;
	out->n = 0;
	if (err != NULL)
		*err = NULL;
	len = header != NULL ? bounded_len(header, LIMIT_COOKIE_MAX) : 0;
	if (len > LIMIT_COOKIE_MAX) {
		rc = HTTP_PERR_TOOLONG;
		msg = "Cookie header longer than " TB_STR(LIMIT_COOKIE_MAX) " bytes";
		goto fail;
	}

	for (i = 0; i < len; i = (size_t)(end - header) + 1) {
		piece = header + i;
		if ((end = memchr(piece, ';', len - i)) == NULL)
			end = header + len;
		for (p = piece; p < end && (*p == ' ' || *p == '\t'); p++)
			continue;
		if (p < end)
			npieces++;
	}
	if (npieces > LIMIT_FIELDS_MAX) {
		rc = HTTP_PERR_TOOMANY;
		msg = arena_printf(a, "%zu cookies, more than the limit of %d", npieces, LIMIT_FIELDS_MAX);
		goto fail;
	}
	if (npieces > 0 && (v = arena_alloc(a, npieces * sizeof(*v))) == NULL) {
		rc = HTTP_PERR_NOMEM;
		goto fail;
	}

	for (i = 0; i < len; i = (size_t)(end - header) + 1) {
		piece = header + i;
		if ((end = memchr(piece, ';', len - i)) == NULL)
			end = header + len;
		if ((eq = memchr(piece, '=', (size_t)(end - piece))) == NULL)
			continue;
		for (ns = piece; ns < eq && (*ns == ' ' || *ns == '\t'); ns++)
			continue;
		for (ne = eq; ne > ns && (ne[-1] == ' ' || ne[-1] == '\t'); ne--)
			continue;
		for (vs = eq + 1; vs < end && (*vs == ' ' || *vs == '\t'); vs++)
			continue;
		for (ve = end; ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			continue;
		if (ne == ns || (size_t)(ne - ns) > LIMIT_FIELD_NAME_MAX)
			continue;
		for (p = ns; p < ne && is_tchar((unsigned char)*p); p++)
			continue;
		if (p < ne)
			continue;
		if (vs < ve && *vs == '"') {
			if (ve - vs < 2 || ve[-1] != '"')
				continue;
			vs++;
			ve--;
		}
		for (p = vs; p < ve && is_cookie_octet((unsigned char)*p); p++)
			continue;
		if (p < ve)
			continue;
		if ((v[out->n].key = arena_strndup(a, ns, (size_t)(ne - ns))) == NULL ||
		    (v[out->n].val = arena_strndup(a, vs, (size_t)(ve - vs))) == NULL) {
			rc = HTTP_PERR_NOMEM;
			goto fail;
		}
		v[out->n].vlen = (size_t)(ve - vs);
		out->n++;
	}
	out->v = v;
	return HTTP_POK;

fail:
	out->n = 0;
	if (err != NULL)
		*err = msg != NULL ? msg : http_perr_str(rc);
	return rc;
}

/* JSON */

/*
 * Nesting depth of [ and { outside strings, without allocating: lets us refuse a deep body before
 * jansson builds (and recursively frees) thousands of nested values. Returns 1 if within max, else 0
 * and *where = the offset of the bracket that went too deep. Malformed input is jansson's to report.
 */
static int
json_depth_ok(const char *s, size_t len, size_t max, size_t *where)
{
	size_t i, depth = 0;
	int in_str = 0;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = 0;
			continue;
		}
		switch (s[i]) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > max) {
				*where = i;
				return 0;
			}
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 1;
}

enum http_perr
http_parse_json_body(const char *body, size_t len, json_t **out, char *err, size_t errsz)
{
	enum http_perr rc = HTTP_POK;
	json_error_t jerr;
	size_t where;
	char *p;

	*out = NULL;
	if (errsz > 0)
		err[0] = '\0';
	if (body == NULL) {
		body = "";
		len = 0;
	}
	if (len > LIMIT_BODY_MAX) {
		rc = HTTP_PERR_TOOLONG;
		snprintf(err, errsz, "JSON body of %zu bytes is over the limit of %d", len, LIMIT_BODY_MAX);
		goto out;
	}
	if (!json_depth_ok(body, len, LIMIT_JSON_DEPTH_MAX, &where)) {
		rc = HTTP_PERR_DEPTH;
		snprintf(err, errsz, "JSON nested deeper than %d levels (at byte %zu)", LIMIT_JSON_DEPTH_MAX,
		    where);
		goto out;
	}
	/* Without JSON_DECODE_ANY jansson insists on an object or array at the top: every body we take is one. */
	if ((*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		rc = HTTP_PERR_JSON;
		/* jansson quotes the offending input ("near 'xyz'"): keep the message printable ASCII so it
		 * can go into a log line or a JSON error reply as it is. */
		for (p = jerr.text; *p != '\0'; p++) {
			if (*p < 0x20 || *p >= 0x7f)
				*p = '?';
		}
		snprintf(err, errsz, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
		    jerr.text);
	}
out:
	return rc;
}

/* UTF-8 */

size_t
http_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c;
	size_t n, i;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return 0;  /* a continuation byte, C0/C1 (overlong 2-byte) or F5..FF */
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int
http_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		if (p[i] < 0x80) {
			n = 1;
			continue;
		}
		if ((n = http_utf8_decode(p + i, len - i, &cp)) == 0)
			return 0;
	}
	return 1;
}

/* Validators */

/* UTF-8 text; C0 controls (but \t \n \r unless oneline), DEL and C1 controls are refused. */
static int
valid_text(const char *s, size_t len, int oneline, const char **reason)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		if ((n = http_utf8_decode(p + i, len - i, &cp)) == 0) {
			*reason = "not valid UTF-8";
			return 0;
		}
		if (cp == '\t' || cp == '\n' || cp == '\r') {
			if (oneline) {
				*reason = "must be a single line";
				return 0;
			}
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			*reason = "contains control characters";
			return 0;
		}
	}
	return 1;
}

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * The WHATWG HTML "valid e-mail address": what <input type=email> accepts, so the server never refuses
 * what the browser allowed. local@label(.label)*, local from atext and '.', labels of letters, digits
 * and inner '-', 1..63 each.
 */
static int
valid_email(const char *s, size_t len)
{
	size_t i = 0, label;

	if (len > LIMIT_EMAIL_MAX)
		return 0;
	for (; i < len && s[i] != '@'; i++) {
		if (!is_alnum((unsigned char)s[i]) && strchr(".!#$%&'*+/=?^_`{|}~-", s[i]) == NULL)
			return 0;
	}
	if (i == 0 || i == len)
		return 0;
	for (i++;;) {
		for (label = 0; i < len && (is_alnum((unsigned char)s[i]) || s[i] == '-'); i++, label++)
			continue;
		if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
			return 0;
		if (i == len)
			return 1;
		if (s[i] != '.')
			return 0;
		i++;
	}
}

/* Decimal integer, no sign unless allow_neg, no spaces, overflow-checked. 0 on success. */
static int
parse_int64(const char *s, size_t len, int allow_neg, int64_t *out)
{
	uint64_t v = 0, lim = INT64_MAX, d;
	size_t i = 0;
	int neg = 0;

	if (allow_neg && len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
		lim = (uint64_t)INT64_MAX + 1;
	}
	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (uint64_t)(s[i] - '0');
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (!neg)
		*out = (int64_t)v;
	else if (v == (uint64_t)INT64_MAX + 1)
		*out = INT64_MIN;
	else
		*out = -(int64_t)v;
	return 0;
}

/* ASCII case-insensitive equality of s[0..len) and the NUL-terminated lowercase word w. */
static int
eq_nocase(const char *s, size_t len, const char *w)
{
	size_t i;
	char c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (w[i] == '\0' || c != w[i])
			return 0;
	}
	return w[len] == '\0';
}

static int
parse_bool(const char *s, size_t len, int *b)
{
	static const char *const yes[] = { "1", "on", "true", "yes" };
	static const char *const no[] = { "0", "off", "false", "no" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (eq_nocase(s, len, yes[i])) {
			*b = 1;
			return 0;
		}
		if (eq_nocase(s, len, no[i])) {
			*b = 0;
			return 0;
		}
	}
	return -1;
}

/*
 * The tz database's own rules for names (its "theory" file): '/'-separated components of at most 14
 * bytes from [A-Za-z0-9._+-], none empty, none starting with '-' or '.' (so no "." or "..": the name
 * becomes a path under /usr/share/zoneinfo in some consumers).
 */
int
http_tz_name_valid(const char *s, size_t len)
{
	size_t i, comp = 0;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '/') {
			if (comp == 0)
				return 0;
			comp = 0;
			continue;
		}
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '+' && s[i] != '-' &&
		    s[i] != '.')
			return 0;
		if (comp == 0 && (s[i] == '-' || s[i] == '.'))
			return 0;
		if (++comp > 14)
			return 0;
	}
	return comp > 0;
}

static size_t
field_maxlen(const struct http_field *f)
{
	if (f->maxlen == 0 || f->maxlen > LIMIT_FIELD_VALUE_MAX)
		return LIMIT_FIELD_VALUE_MAX;
	return f->maxlen;
}

int
http_validate_one(const struct http_field *f, const char *s, size_t len, struct http_value *v)
{
	char tmp[40];  /* NUL-terminated copy for the date parsers; longer input is invalid anyway */
	const char *reason = NULL;
	int64_t i64;
	size_t i;

	if (s == NULL) {
		s = "";
		len = 0;
	}
	v->s = s;
	v->len = len;
	v->i64 = 0;
	v->b = 0;
	memset(&v->date, 0, sizeof(v->date));
	v->valid = 0;
	v->reason = NULL;

	if (len > field_maxlen(f)) {
		reason = "too long";
		goto out;
	}
	if (memchr(s, '\0', len) != NULL) {
		reason = "contains a NUL byte";
		goto out;
	}
	switch (f->type) {
	case HTTP_FT_TEXT:
	case HTTP_FT_LINE:
		if (!valid_text(s, len, f->type == HTTP_FT_LINE, &reason))
			goto out;
		break;
	case HTTP_FT_EMAIL:
		if (!valid_email(s, len)) {
			reason = "not a valid e-mail address";
			goto out;
		}
		break;
	case HTTP_FT_INT64:
	case HTTP_FT_UINT:
		if (parse_int64(s, len, f->type == HTTP_FT_INT64, &i64) != 0) {
			reason = "not a whole number in range";
			goto out;
		}
		if (f->min < f->max && (i64 < f->min || i64 > f->max)) {
			reason = "out of range";
			goto out;
		}
		v->i64 = i64;
		break;
	case HTTP_FT_BOOL:
		if (parse_bool(s, len, &v->b) != 0) {
			reason = "not a yes/no value";
			goto out;
		}
		break;
	case HTTP_FT_DATE:
		if (len >= sizeof(tmp))
			goto bad_date;
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (tb_parse_date(tmp, &v->date.y, &v->date.m, &v->date.d) != 0)
			goto bad_date;
		v->i64 = tb_days_from_civil(v->date.y, v->date.m, v->date.d);
		break;
	bad_date:
		reason = "not a date (YYYY-MM-DD)";
		goto out;
	case HTTP_FT_DATETIME:
		if (len >= sizeof(tmp))
			goto bad_datetime;
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (tb_parse_rfc3339(tmp, &v->i64) != 0)
			goto bad_datetime;
		break;
	bad_datetime:
		reason = "not an RFC 3339 date-time";
		goto out;
	case HTTP_FT_TOKEN:
		for (i = 0; i < len && (is_alnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'); i++)
			continue;
		if (len == 0 || i < len) {
			reason = "not a token";
			goto out;
		}
		break;
	case HTTP_FT_TZ:
		if (!http_tz_name_valid(s, len)) {
			reason = "not a time zone name";
			goto out;
		}
		break;
	case HTTP_FT_ENUM:
		for (i = 0; f->choices != NULL && f->choices[i] != NULL; i++) {
			if (strlen(f->choices[i]) == len && memcmp(f->choices[i], s, len) == 0)
				break;
		}
		if (f->choices == NULL || f->choices[i] == NULL) {
			reason = "not one of the allowed values";
			goto out;
		}
		v->i64 = (int64_t)i;
		break;
	default:
		reason = "unknown field type";
		goto out;
	}
	v->valid = 1;
out:
	v->reason = reason;
	return v->valid;
}

static int
is_text_type(enum http_ftype t)
{
	return t == HTTP_FT_TEXT || t == HTTP_FT_LINE;
}

size_t
http_validate(const struct http_field *fields, size_t n, const struct kvlist *in,
	struct http_value *out)
{
	const struct http_field *f;
	struct http_value *v, extra;
	const struct kv *p;
	size_t i, j, problems = 0;

	memset(out, 0, n * sizeof(*out));
	for (j = 0; in != NULL && j < in->n; j++) {
		p = &in->v[j];
		for (i = 0; i < n && strcmp(fields[i].name, p->key) != 0; i++)
			continue;
		if (i == n)
			continue;  /* unknown keys are ignored, as kcgi does */
		f = &fields[i];
		v = &out[i];
		if (p->vlen == 0 && !is_text_type(f->type))
			continue;  /* a blank typed input is "not given" */
		if (++v->count == 1) {
			v->present = 1;
			http_validate_one(f, p->val, p->vlen, v);
			continue;
		}
		/* Repeats: ambiguity is refused unless the field is declared to take several values. */
		if (!(f->flags & HTTP_FIELD_MULTI)) {
			v->valid = 0;
			v->reason = "given more than once";
		} else if (v->valid) {
			memset(&extra, 0, sizeof(extra));
			if (!http_validate_one(f, p->val, p->vlen, &extra)) {
				v->valid = 0;
				v->reason = extra.reason;
			}
		}
	}
	for (i = 0; i < n; i++) {
		v = &out[i];
		if ((fields[i].flags & HTTP_FIELD_REQUIRED) && (!v->present || v->len == 0)) {
			v->valid = 0;
			v->reason = "missing";
		}
		if (!v->valid && (v->present || (fields[i].flags & HTTP_FIELD_REQUIRED)))
			problems++;
	}
	return problems;
}
