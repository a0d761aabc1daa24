/* html.c: context-named escaping into a struct buf: text, quoted attribute, whole URL, URL component. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "http/html.h"
#include "http/parse.h"
#include "util/buf.h"

/* U+FFFD REPLACEMENT CHARACTER, what a browser shows for bytes it cannot decode. */
#define REPLACEMENT "\xef\xbf\xbd"

enum esc_mode { ESC_TEXT, ESC_ATTR };

/*
 * The one escaping loop: copies runs of safe bytes at once, substitutes the rest. Well-formed UTF-8
 * sequences pass through; each byte of a malformed one, and NUL, becomes U+FFFD.
 */
static void
escape(struct buf *b, const char *s, size_t n, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, len;
	const char *rep;
	char num[8];
	uint32_t cp;

	while (i < n) {
		rep = NULL;
		if (p[i] >= 0x80) {
			if ((len = http_utf8_decode(p + i, n - i, &cp)) > 0) {
				i += len;
				continue;
			}
			rep = REPLACEMENT;
		} else {
			switch (p[i]) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&#39;"; break;
			case '\0': rep = REPLACEMENT; break;
			case '`':
				if (mode == ESC_ATTR)
					rep = "&#96;";
				break;
			case '=':
				if (mode == ESC_ATTR)
					rep = "&#61;";
				break;
			default:
				if (mode == ESC_ATTR && (p[i] < 0x20 || p[i] == 0x7f)) {
					num[0] = '&';
					num[1] = '#';
					num[2] = (char)('0' + p[i] / 100);
					num[3] = (char)('0' + p[i] / 10 % 10);
					num[4] = (char)('0' + p[i] % 10);
					num[5] = ';';
					num[6] = '\0';
					rep = num;
				}
				break;
			}
		}
		if (rep == NULL) {
			i++;
			continue;
		}
		buf_append(b, s + run, i - run);
		buf_puts(b, rep);
		i++;
		run = i;
	}
	buf_append(b, s + run, i - run);
}

void
html_txtn(struct buf *b, const char *s, size_t n)
{
	escape(b, s, n, ESC_TEXT);
}

void
html_txt(struct buf *b, const char *s)
{
	if (s != NULL)
		escape(b, s, strlen(s), ESC_TEXT);
}

void
html_attrn(struct buf *b, const char *s, size_t n)
{
	escape(b, s, n, ESC_ATTR);
}

void
html_attr(struct buf *b, const char *s)
{
	if (s != NULL)
		escape(b, s, strlen(s), ESC_ATTR);
}

/* What the WHATWG URL parser strips from both ends: C0 controls and space. */
static int
is_c0_or_space(unsigned char c)
{
	return c <= 0x20;
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_c0_or_space((unsigned char)(*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_c0_or_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* ASCII case-insensitive s[0..n) == lowercase w. */
static int
scheme_is(const char *s, size_t n, const char *w)
{
	size_t i;
	char c;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != w[i])
			return 0;
	}
	return 1;
}

int
html_url_allowed(const char *s, size_t n)
{
	size_t i;

	trim(&s, &n);
	if (!http_utf8_valid(s, n))
		return 0;
	/* Browsers delete tabs and newlines inside URLs ("java\tscript:"); no real link holds a control. */
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	}
	/* Up to the first delimiter is where a scheme would be; a ':' there means there is one. */
	for (i = 0; i < n && s[i] != ':' && s[i] != '/' && s[i] != '?' && s[i] != '#'; i++) {
		if (s[i] == '&')
			return 0;
	}
	if (i == n || s[i] != ':')
		return 1;  /* relative: path, "//host", "?query" or "#fragment" */
	return scheme_is(s, i, "http") || scheme_is(s, i, "https") || scheme_is(s, i, "mailto");
}

void
html_urln(struct buf *b, const char *s, size_t n)
{
	trim(&s, &n);
	if (!html_url_allowed(s, n)) {
		buf_putc(b, '#');
		return;
	}
	escape(b, s, n, ESC_ATTR);
}

void
html_url(struct buf *b, const char *s)
{
	if (s != NULL)
		html_urln(b, s, strlen(s));
}

void
html_url_argn(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t i, run = 0;
	char enc[3];

	for (i = 0; i < n; i++) {
		if ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '.' || p[i] == '_' || p[i] == '~')
			continue;
		buf_append(b, s + run, i - run);
		enc[0] = '%';
		enc[1] = hex[p[i] >> 4];
		enc[2] = hex[p[i] & 0x0f];
		buf_append(b, enc, 3);
		run = i + 1;
	}
	buf_append(b, s + run, n - run);
}

void
html_url_arg(struct buf *b, const char *s)
{
	if (s != NULL)
		html_url_argn(b, s, strlen(s));
}

void
html_raw_literal(struct buf *b, const char *literal)
{
	buf_puts(b, literal);
}
