/* html.h: output escaping, one function per place the output goes (cgit html.h style). */
#ifndef TB_HTTP_HTML_H
#define TB_HTTP_HTML_H

#include <stddef.h>

#include "util/buf.h"

/*
 * All writers append to b and never fail on their own (b->oom records allocation failure). The input
 * is bytes: invalid UTF-8 and NUL become U+FFFD, so the output is always well-formed UTF-8. A NULL
 * string (an absent optional value) writes nothing, except html_url, which writes nothing too.
 */

/* A text node (also RCDATA: <title>, <textarea>): & < > " ' escaped. */
void html_txt(struct buf *b, const char *s);
void html_txtn(struct buf *b, const char *s, size_t n);

/*
 * A double- or single-quoted attribute value: also ` and = (old browsers ended values on them) and every
 * ASCII control character as a numeric reference. Never for unquoted values, on* handlers, style,
 * srcdoc or srcset: none of those is a plain string context (the template engine refuses them).
 */
void html_attr(struct buf *b, const char *s);
void html_attrn(struct buf *b, const char *s, size_t n);

/*
 * A whole URL in a quoted href/src/action/... value. Leading and trailing whitespace and C0 controls
 * are trimmed (as browsers do); then the URL must be relative or use http:, https: or mailto: (any
 * case). Anything else is written as "#": another scheme (javascript:, data:, vbscript:...), a control
 * character or invalid UTF-8 anywhere, or an '&' before the first '/', '?' or '#' (character-reference
 * tricks such as "&#106;avascript:" or "javascript&colon;"). The result is then attribute-escaped.
 */
void html_url(struct buf *b, const char *s);
void html_urln(struct buf *b, const char *s, size_t n);

/* The test html_url applies to s[0..n) after trimming: 1 if it would be written, 0 if it becomes "#".
 * Also right for redirect targets that must not leave http(s). */
int  html_url_allowed(const char *s, size_t n);

/*
 * One component of a URL (a query value, a path segment): every byte but RFC 3986 unreserved
 * A-Z a-z 0-9 - . _ ~ is percent-encoded. The output is then safe in text and in attributes as well.
 */
void html_url_arg(struct buf *b, const char *s);
void html_url_argn(struct buf *b, const char *s, size_t n);

/*
 * Unescaped output, for string literals of our own markup only. The macro pastes "" around its
 * argument, so anything but a string literal (a variable, request data) fails to compile.
 */
#define html_raw(b, literal) html_raw_literal((b), "" literal "")
void html_raw_literal(struct buf *b, const char *literal);

#endif
