/* template.c: parse @@key@@ templates, stamp each marker with its HTML context, render through escapers. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/html.h"
#include "http/parse.h"
#include "http/template.h"
#include "util/buf.h"
#include "util/limits.h"

/*
 * The context rules. The parser runs a reduced HTML tokenizer (the states of the WHATWG tokenizer that
 * can change where a value lands) over the template's literal text, and at each marker decides:
 *
 *   text node ............................................. TEXT  (html_txt; tmpl_nest allowed)
 *   <title>, <textarea> content (RCDATA) .................. TEXT  (html_txt; no tmpl_nest)
 *   "..." or '...' value of an ordinary attribute ......... ATTR  (html_attr)
 *   "..." value of a URL attribute (href src action formaction poster cite background longdesc usemap
 *       profile codebase classid data manifest icon lowsrc dynsrc xlink:href xml:base itemtype itemid):
 *     - the marker starts the value ....................... URL   (html_url: scheme whitelist, then escaped)
 *     - the literal before it settled the scheme with '/', '?', '#' or "http:", "https:", "mailto:"
 *                                                           URL_ARG (html_url_arg: percent-encoded)
 *     - anything else, e.g. href="java@@x@@" or href="@@a@@@@b@@" ............ error
 *     - after a marker, a literal ':' or '&' before the scheme is settled ("@@x@@:y") ... error
 *     - a literal '&' before the scheme is settled (a character reference could spell a scheme) ... error
 *
 * Errors (refuse rather than guess), because no string escaping is right there:
 *   - right after '<' or '</' (a value starting with a letter would open a tag), in a tag name, in an
 *     attribute name, between attributes, in an unquoted value;
 *   - in a comment, a <!DOCTYPE>/<?...>/<![CDATA[ (bogus comment);
 *   - in <script>, <style>, <xmp>, <iframe>, <noembed>, <noframes>, <noscript>, <plaintext> content;
 *     and "<!--" inside <script> at all (the script-data escape states are not modelled);
 *   - in the value of on* (event handlers: JavaScript), style (CSS), srcdoc (HTML), *srcset, ping,
 *     archive (URL lists our URL check cannot split);
 *   - anywhere in a <meta> tag that has http-equiv (content="0;url=..." is a URL the browser follows);
 *   - in any attribute of <script>, <base>, <link>, <object>, <embed>, <applet>, <param>: even an https
 *     URL chosen by data would load active content (script, CSS, plugin) or re-base every relative URL;
 *   - the template ending inside a tag, a comment or raw text (a nested template must be balanced so
 *     its parent's contexts stay true).
 */

#define NO_KEY        SIZE_MAX
#define NAME_MAX_KEEP 16  /* tag/attribute name bytes kept for comparisons; longer names match nothing */
#define SCHEME_KEEP   8   /* bytes of a literal URL prefix kept to compare with the scheme whitelist */

struct tmpl_part {
	size_t             off, len;  /* literal text emitted before the marker */
	size_t             key;       /* index into keys, NO_KEY for the trailing literal */
	enum tmpl_context  ctx;
	int                nestable;  /* TEXT marker in ordinary markup */
};

struct tmpl {
	char               *src;
	size_t              len;
	const char *const  *keys;
	size_t              nkeys;
	struct tmpl_part   *parts;
	size_t              nparts;
};

struct tmpl_ctx {
	struct buf         *out;
	struct buf          val;       /* the marker's value, escaped as a whole when the callback returns */
	enum tmpl_context   context;
	int                 nestable;
	int                 depth;
	int                 failed;    /* a refused tmpl_nest() or a failed nested rendering */
};

struct tmpl_set {
	struct tmpl **t;
	size_t        n;
};

enum hstate {
	HS_DATA,
	HS_RCDATA,
	HS_RAWTEXT,
	HS_TAG_OPEN,
	HS_END_TAG_OPEN,
	HS_TAG_NAME,
	HS_BEFORE_ATTR_NAME,
	HS_ATTR_NAME,
	HS_AFTER_ATTR_NAME,
	HS_BEFORE_ATTR_VALUE,
	HS_ATTR_VALUE_DQ,
	HS_ATTR_VALUE_SQ,
	HS_ATTR_VALUE_UNQ,
	HS_AFTER_ATTR_VALUE,
	HS_SELF_CLOSING,
	HS_COMMENT,
	HS_BOGUS_COMMENT,
};

/* For "marker ... not allowed <where>" and "template ends <where>". */
static const char *const hstate_where[] = {
	[HS_DATA]              = "in text",
	[HS_RCDATA]            = "inside <title>/<textarea>",
	[HS_RAWTEXT]           = "inside <script>, <style> or another raw-text element",
	[HS_TAG_OPEN]          = "right after '<'",
	[HS_END_TAG_OPEN]      = "right after '</'",
	[HS_TAG_NAME]          = "in a tag name",
	[HS_BEFORE_ATTR_NAME]  = "inside a tag, outside any attribute value",
	[HS_ATTR_NAME]         = "in an attribute name",
	[HS_AFTER_ATTR_NAME]   = "inside a tag, after an attribute name",
	[HS_BEFORE_ATTR_VALUE] = "in an unquoted attribute value (quote it)",
	[HS_ATTR_VALUE_DQ]     = "inside a \"...\" attribute value",
	[HS_ATTR_VALUE_SQ]     = "inside a '...' attribute value",
	[HS_ATTR_VALUE_UNQ]    = "in an unquoted attribute value (quote it)",
	[HS_AFTER_ATTR_VALUE]  = "inside a tag, after an attribute value",
	[HS_SELF_CLOSING]      = "inside a tag, after '/'",
	[HS_COMMENT]           = "inside a comment",
	[HS_BOGUS_COMMENT]     = "inside <!...> or <?...>",
};

enum attr_kind { AK_PLAIN, AK_URL, AK_FORBIDDEN };

struct parser {
	const char         *src;
	size_t              len, i;
	unsigned            line;
	const char *const  *keys;
	size_t              nkeys;
	enum hstate         st;
	/* the current tag */
	char                tag[NAME_MAX_KEEP + 1];
	size_t              taglen;       /* may exceed NAME_MAX_KEEP: then only the first bytes are kept */
	int                 end_tag, tag_has_marker, tag_http_equiv;
	/* the current attribute */
	char                attr[NAME_MAX_KEEP + 1];
	size_t              attrlen;
	enum attr_kind      akind;
	/* the current quoted value, for URL attributes */
	size_t              vlen;
	char                vprefix[SCHEME_KEEP + 1];
	size_t              vprefixlen;
	int                 scheme_fixed, scheme_ok, marker_in_value, amp_unfixed;
	/* raw text / RCDATA: the end tag that closes it; empty for <plaintext>, which never closes */
	char                raw_end[NAME_MAX_KEEP + 1];
	size_t              raw_endlen;
	/* output */
	struct tmpl_part   *parts;
	size_t              nparts, cap;
	size_t              lit_off;      /* where the literal before the next marker starts */
	char               *err;
	size_t              errsz;
};

static int
perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->errsz == 0)
		return -1;
	n = snprintf(p->err, p->errsz, "line %u: ", p->line);
	if (n >= 0 && (size_t)n < p->errsz) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int
is_key_char(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Append c, lowercased, to a kept name; *len counts every byte so over-long names compare unequal. */
static void
name_add(char *name, size_t *len, size_t keep, char c)
{
	if (*len < keep) {
		name[*len] = lower(c);
		name[*len + 1] = '\0';
	}
	(*len)++;
}

static int
name_is(const char *name, size_t len, const char *w)
{
	return len == strlen(w) && memcmp(name, w, len) == 0;
}

static int
name_in(const char *name, size_t len, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (name_is(name, len, *list))
			return 1;
	}
	return 0;
}

static const char *const url_attrs[] = {
	"href", "src", "action", "formaction", "poster", "cite", "background", "longdesc", "usemap",
	"profile", "codebase", "classid", "data", "manifest", "icon", "lowsrc", "dynsrc", "xlink:href",
	"xml:base", "itemtype", "itemid", NULL
};

/* Script, CSS, HTML or URL lists: no string escaping makes a value safe there. */
static const char *const forbidden_attrs[] = {
	"style", "srcdoc", "srcset", "imagesrcset", "ping", "archive", NULL
};

static const char *const rawtext_tags[] = {
	"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext", NULL
};

static const char *const rcdata_tags[] = { "title", "textarea", NULL };

/* Tags whose URL attributes load or scope active content: markers are refused in all their attributes. */
static const char *const active_tags[] = {
	"script", "base", "link", "object", "embed", "applet", "param", NULL
};

static enum attr_kind
attr_kind(const struct parser *p)
{
	if (p->attrlen > NAME_MAX_KEEP)
		return AK_PLAIN;  /* no URL or forbidden attribute has a name this long */
	if ((p->attrlen >= 2 && p->attr[0] == 'o' && p->attr[1] == 'n') ||
	    name_in(p->attr, p->attrlen, forbidden_attrs))
		return AK_FORBIDDEN;
	if (p->attrlen >= 6 && memcmp(p->attr + p->attrlen - 6, "srcset", 6) == 0)
		return AK_FORBIDDEN;
	if (name_in(p->attr, p->attrlen, url_attrs))
		return AK_URL;
	return AK_PLAIN;
}

static void
attr_begin(struct parser *p, char c)
{
	p->attrlen = 0;
	p->attr[0] = '\0';
	name_add(p->attr, &p->attrlen, NAME_MAX_KEEP, c);
	p->st = HS_ATTR_NAME;
}

/* The attribute name is complete. */
static void
attr_named(struct parser *p)
{
	if (name_is(p->attr, p->attrlen, "http-equiv"))
		p->tag_http_equiv = 1;
}

static void
value_begin(struct parser *p, enum hstate st)
{
	p->st = st;
	p->akind = attr_kind(p);
	p->vlen = 0;
	p->vprefixlen = 0;
	p->vprefix[0] = '\0';
	p->scheme_fixed = p->scheme_ok = p->marker_in_value = p->amp_unfixed = 0;
}

/* One literal byte of a quoted value: track whether a URL's scheme is settled. */
static int
value_char(struct parser *p, char c)
{
	p->vlen++;
	if (p->akind != AK_URL || p->scheme_fixed)
		return 0;
	if (c == '/' || c == '?' || c == '#') {
		p->scheme_fixed = p->scheme_ok = 1;
	} else if (c == ':') {
		if (p->marker_in_value)
			return perr(p, "':' after a marker in URL attribute '%s' could complete a scheme", p->attr);
		p->scheme_fixed = 1;
		p->scheme_ok = p->vprefixlen <= SCHEME_KEEP &&
		    (name_is(p->vprefix, p->vprefixlen, "http") || name_is(p->vprefix, p->vprefixlen, "https") ||
		    name_is(p->vprefix, p->vprefixlen, "mailto"));
	} else if (c == '&') {
		if (p->marker_in_value)
			return perr(p, "'&' after a marker in URL attribute '%s' could spell a scheme", p->attr);
		p->amp_unfixed = 1;
	} else
		name_add(p->vprefix, &p->vprefixlen, SCHEME_KEEP, c);
	return 0;
}

static void
tag_begin(struct parser *p, char c, int end_tag)
{
	p->taglen = 0;
	p->tag[0] = '\0';
	p->end_tag = end_tag;
	p->tag_has_marker = p->tag_http_equiv = 0;
	name_add(p->tag, &p->taglen, NAME_MAX_KEEP, c);
	p->st = HS_TAG_NAME;
}

/* '>' closed the current tag: check it, and enter the content state its element starts. */
static int
tag_end(struct parser *p)
{
	if (name_is(p->tag, p->taglen, "meta") && p->tag_http_equiv && p->tag_has_marker)
		return perr(p, "marker in a <meta http-equiv> tag (its content can be a URL to follow)");
	p->st = HS_DATA;
	if (p->end_tag)
		return 0;
	if (name_in(p->tag, p->taglen, rawtext_tags) || name_in(p->tag, p->taglen, rcdata_tags)) {
		p->st = name_in(p->tag, p->taglen, rcdata_tags) ? HS_RCDATA : HS_RAWTEXT;
		memcpy(p->raw_end, p->tag, p->taglen + 1);
		p->raw_endlen = name_is(p->tag, p->taglen, "plaintext") ? 0 : p->taglen;
	}
	return 0;
}

/* At src[i] == '<' in raw text or RCDATA: is this the element's end tag? */
static int
at_raw_end(const struct parser *p)
{
	size_t i = p->i, k;

	if (p->raw_endlen == 0 || p->len - i < 2 + p->raw_endlen || p->src[i + 1] != '/')
		return 0;
	for (k = 0; k < p->raw_endlen; k++) {
		if (lower(p->src[i + 2 + k]) != p->raw_end[k])
			return 0;
	}
	k = i + 2 + p->raw_endlen;
	return k == p->len || is_ws(p->src[k]) || p->src[k] == '/' || p->src[k] == '>';
}

static int
starts_with(const struct parser *p, size_t at, const char *w)
{
	size_t n = strlen(w);

	return p->len - at >= n && memcmp(p->src + at, w, n) == 0;
}

static int
add_part(struct parser *p, size_t lit_end, size_t key, enum tmpl_context ctx, int nestable)
{
	struct tmpl_part *np;
	size_t cap;

	if (p->nparts == p->cap) {
		cap = p->cap ? p->cap * 2 : 16;
		if ((np = realloc(p->parts, cap * sizeof(*np))) == NULL)
			return perr(p, "out of memory");
		p->parts = np;
		p->cap = cap;
	}
	np = &p->parts[p->nparts++];
	np->off = p->lit_off;
	np->len = lit_end - p->lit_off;
	np->key = key;
	np->ctx = ctx;
	np->nestable = nestable;
	return 0;
}

/* src[i] starts "@@": read the marker, decide its context, record it, move past it. */
static int
marker(struct parser *p)
{
	size_t start = p->i + 2, k, klen, key;
	enum tmpl_context ctx;
	char name[LIMIT_TEMPLATE_KEY_MAX + 1];

	for (k = start; k < p->len && is_key_char(p->src[k]); k++)
		continue;
	klen = k - start;
	if (klen == 0 || !starts_with(p, k, "@@"))
		return perr(p, "malformed marker: \"@@\" must open @@key@@ (write a literal one as &#64;&#64;)");
	if (klen > LIMIT_TEMPLATE_KEY_MAX)
		return perr(p, "marker name longer than %d bytes", LIMIT_TEMPLATE_KEY_MAX);
	memcpy(name, p->src + start, klen);
	name[klen] = '\0';
	for (key = 0; key < p->nkeys; key++) {
		if (p->keys[key] != NULL && strcmp(p->keys[key], name) == 0)
			break;
	}
	if (key == p->nkeys)
		return perr(p, "unknown key '%s'", name);

	switch (p->st) {
	case HS_DATA:
	case HS_RCDATA:
		ctx = TMPL_CONTEXT_TEXT;
		break;
	case HS_ATTR_VALUE_DQ:
	case HS_ATTR_VALUE_SQ:
		if (!p->end_tag && name_in(p->tag, p->taglen, active_tags))
			return perr(p, "marker @@%s@@ in a <%s> tag (it loads or scopes active content) is not allowed",
			    name, p->tag);
		if (p->akind == AK_FORBIDDEN)
			return perr(p, "marker @@%s@@ in attribute '%s' (script, style, HTML or URL list) is not allowed",
			    name, p->attr);
		if (p->akind == AK_PLAIN)
			ctx = TMPL_CONTEXT_ATTR;
		else if (p->amp_unfixed)
			return perr(p, "marker @@%s@@ in URL attribute '%s' after an '&' that could spell a scheme",
			    name, p->attr);
		else if (p->vlen == 0)
			ctx = TMPL_CONTEXT_URL;
		else if (!p->scheme_fixed)
			return perr(p, "marker @@%s@@ in URL attribute '%s' must start the value or follow a "
			    "literal '/', '?', '#' or an http:, https: or mailto: scheme", name, p->attr);
		else if (!p->scheme_ok)
			return perr(p, "marker @@%s@@ in URL attribute '%s' after a scheme other than http, https "
			    "or mailto", name, p->attr);
		else
			ctx = TMPL_CONTEXT_URL_ARG;
		p->vlen++;
		p->marker_in_value = 1;
		p->tag_has_marker = 1;
		break;
	default:
		return perr(p, "marker @@%s@@ %s is not allowed", name, hstate_where[p->st]);
	}
	if (add_part(p, p->i, key, ctx, p->st == HS_DATA) != 0)
		return -1;
	p->i = k + 2;
	p->lit_off = p->i;
	return 0;
}

/* Consume src[i] (or switch state and leave it to be consumed again) in the current state. */
static int
step(struct parser *p)
{
	char c = p->src[p->i];

	switch (p->st) {
	case HS_DATA:
		if (c == '<')
			p->st = HS_TAG_OPEN;
		break;
	case HS_RCDATA:
	case HS_RAWTEXT:
		if (c != '<')
			break;
		if (at_raw_end(p)) {
			memcpy(p->tag, p->raw_end, p->raw_endlen + 1);
			p->taglen = p->raw_endlen;
			p->end_tag = 1;
			p->tag_has_marker = p->tag_http_equiv = 0;
			p->st = HS_TAG_NAME;
			p->i += 2 + p->raw_endlen;
			return 0;
		}
		if (p->st == HS_RAWTEXT && name_is(p->raw_end, p->raw_endlen, "script") &&
		    starts_with(p, p->i, "<!--"))
			return perr(p, "\"<!--\" inside <script> is not supported (move the script to www/)");
		break;
	case HS_TAG_OPEN:
		if (is_alpha(c))
			tag_begin(p, c, 0);
		else if (c == '/')
			p->st = HS_END_TAG_OPEN;
		else if (c == '!' && starts_with(p, p->i, "!--")) {
			p->i += 3;
			p->st = HS_COMMENT;
			/* "<!-->" and "<!--->" are complete (empty) comments. */
			if (starts_with(p, p->i, ">"))
				p->i += 1, p->st = HS_DATA;
			else if (starts_with(p, p->i, "->"))
				p->i += 2, p->st = HS_DATA;
			return 0;
		} else if (c == '!' || c == '?')
			p->st = HS_BOGUS_COMMENT;
		else {
			p->st = HS_DATA;  /* "a < b": the '<' was text */
			return 0;
		}
		break;
	case HS_END_TAG_OPEN:
		if (is_alpha(c))
			tag_begin(p, c, 1);
		else if (c == '>')
			p->st = HS_DATA;
		else {
			p->st = HS_BOGUS_COMMENT;
			return 0;
		}
		break;
	case HS_TAG_NAME:
		if (is_ws(c))
			p->st = HS_BEFORE_ATTR_NAME;
		else if (c == '/')
			p->st = HS_SELF_CLOSING;
		else if (c == '>') {
			if (tag_end(p) != 0)
				return -1;
		} else
			name_add(p->tag, &p->taglen, NAME_MAX_KEEP, c);
		break;
	case HS_BEFORE_ATTR_NAME:
	case HS_AFTER_ATTR_NAME:
		if (is_ws(c))
			break;
		if (c == '/')
			p->st = HS_SELF_CLOSING;
		else if (c == '>') {
			if (tag_end(p) != 0)
				return -1;
		} else if (c == '=' && p->st == HS_AFTER_ATTR_NAME)
			p->st = HS_BEFORE_ATTR_VALUE;
		else
			attr_begin(p, c);
		break;
	case HS_ATTR_NAME:
		if (is_ws(c) || c == '/' || c == '>' || c == '=') {
			attr_named(p);
			p->st = c == '=' ? HS_BEFORE_ATTR_VALUE : HS_AFTER_ATTR_NAME;
			if (c == '=')
				break;
			return 0;  /* AFTER_ATTR_NAME handles '/', '>' and whitespace */
		}
		name_add(p->attr, &p->attrlen, NAME_MAX_KEEP, c);
		break;
	case HS_BEFORE_ATTR_VALUE:
		if (is_ws(c))
			break;
		if (c == '"')
			value_begin(p, HS_ATTR_VALUE_DQ);
		else if (c == '\'')
			value_begin(p, HS_ATTR_VALUE_SQ);
		else if (c == '>') {
			if (tag_end(p) != 0)
				return -1;
		} else {
			value_begin(p, HS_ATTR_VALUE_UNQ);
			return 0;
		}
		break;
	case HS_ATTR_VALUE_DQ:
	case HS_ATTR_VALUE_SQ:
		if (c == (p->st == HS_ATTR_VALUE_DQ ? '"' : '\''))
			p->st = HS_AFTER_ATTR_VALUE;
		else if (value_char(p, c) != 0)
			return -1;
		break;
	case HS_ATTR_VALUE_UNQ:
		if (is_ws(c))
			p->st = HS_BEFORE_ATTR_NAME;
		else if (c == '>') {
			if (tag_end(p) != 0)
				return -1;
		}
		break;
	case HS_AFTER_ATTR_VALUE:
	case HS_SELF_CLOSING:
		if (c == '>') {
			if (tag_end(p) != 0)
				return -1;
			break;
		}
		if (is_ws(c) || (c == '/' && p->st == HS_AFTER_ATTR_VALUE)) {
			p->st = c == '/' ? HS_SELF_CLOSING : HS_BEFORE_ATTR_NAME;
			break;
		}
		p->st = HS_BEFORE_ATTR_NAME;
		return 0;
	case HS_COMMENT:
		if (starts_with(p, p->i, "-->")) {
			p->i += 3;
			p->st = HS_DATA;
			return 0;
		}
		if (starts_with(p, p->i, "--!>")) {
			p->i += 4;
			p->st = HS_DATA;
			return 0;
		}
		break;
	case HS_BOGUS_COMMENT:
		if (c == '>')
			p->st = HS_DATA;
		break;
	}
	if (c == '\n')
		p->line++;
	p->i++;
	return 0;
}

/* The template source itself must be UTF-8 without NUL; report the line of the first bad byte. */
static int
check_source(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->src;
	uint32_t cp;
	size_t i, n;

	for (i = 0; i < p->len; i += n) {
		n = 1;
		if (s[i] == '\n')
			p->line++;
		else if (s[i] == '\0')
			return perr(p, "NUL byte in the template");
		else if (s[i] >= 0x80 && (n = http_utf8_decode(s + i, p->len - i, &cp)) == 0)
			return perr(p, "template is not valid UTF-8");
	}
	p->line = 1;
	return 0;
}

struct tmpl *
tmpl_parse(const char *src, size_t len, const char *const *keys, size_t nkeys, char *err, size_t errsz)
{
	struct parser p;
	struct tmpl *t = NULL;

	memset(&p, 0, sizeof(p));
	p.src = src != NULL ? src : "";
	p.len = src != NULL ? len : 0;
	p.line = 1;
	p.keys = keys;
	p.nkeys = nkeys;
	p.st = HS_DATA;
	p.err = err;
	p.errsz = errsz;
	if (errsz > 0)
		err[0] = '\0';

	if (p.len > LIMIT_TEMPLATE_SIZE_MAX) {
		perr(&p, "template larger than %d bytes", LIMIT_TEMPLATE_SIZE_MAX);
		goto fail;
	}
	if (check_source(&p) != 0)
		goto fail;
	while (p.i < p.len) {
		if (p.src[p.i] == '@' && starts_with(&p, p.i, "@@")) {
			if (marker(&p) != 0)
				goto fail;
		} else if (step(&p) != 0)
			goto fail;
	}
	if (p.st != HS_DATA) {
		perr(&p, "template ends %s; it must end in text", hstate_where[p.st]);
		goto fail;
	}
	if (add_part(&p, p.len, NO_KEY, TMPL_CONTEXT_NONE, 0) != 0)
		goto fail;

	if ((t = calloc(1, sizeof(*t))) == NULL || (t->src = malloc(p.len + 1)) == NULL) {
		perr(&p, "out of memory");
		goto fail;
	}
	memcpy(t->src, p.src, p.len);
	t->src[p.len] = '\0';
	t->len = p.len;
	t->keys = keys;
	t->nkeys = nkeys;
	t->parts = p.parts;
	t->nparts = p.nparts;
	return t;

fail:
	if (t != NULL)
		free(t->src);
	free(t);
	free(p.parts);
	return NULL;
}

struct tmpl *
tmpl_load(const char *path, const char *const *keys, size_t nkeys, char *err, size_t errsz)
{
	struct tmpl *t = NULL;
	char *data = NULL, sub[512];
	size_t len = 0, n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errsz, "%s: cannot open", path);
		goto out;
	}
	/* One byte more than the limit tells "too large" from "exactly at the limit". */
	if ((data = malloc(LIMIT_TEMPLATE_SIZE_MAX + 1)) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto out;
	}
	while (len <= LIMIT_TEMPLATE_SIZE_MAX &&
	    (n = fread(data + len, 1, LIMIT_TEMPLATE_SIZE_MAX + 1 - len, f)) > 0)
		len += n;
	if (ferror(f)) {
		snprintf(err, errsz, "%s: read error", path);
		goto out;
	}
	if (len > LIMIT_TEMPLATE_SIZE_MAX) {
		snprintf(err, errsz, "%s: larger than %d bytes", path, LIMIT_TEMPLATE_SIZE_MAX);
		goto out;
	}
	if ((t = tmpl_parse(data, len, keys, nkeys, sub, sizeof(sub))) == NULL)
		snprintf(err, errsz, "%s: %s", path, sub);
out:
	if (f != NULL)
		fclose(f);
	free(data);
	return t;
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	free(t->parts);
	free(t->src);
	free(t);
}

enum tmpl_context
tmpl_context_of(const struct tmpl *t, size_t key)
{
	size_t i;

	for (i = 0; i < t->nparts; i++) {
		if (t->parts[i].key == key)
			return t->parts[i].ctx;
	}
	return TMPL_CONTEXT_NONE;
}

/* Escape the marker's collected value into the output, by its context. */
static void
flush(struct tmpl_ctx *ctx)
{
	if (ctx->val.len == 0)
		return;
	switch (ctx->context) {
	case TMPL_CONTEXT_TEXT:
		html_txtn(ctx->out, ctx->val.data, ctx->val.len);
		break;
	case TMPL_CONTEXT_ATTR:
		html_attrn(ctx->out, ctx->val.data, ctx->val.len);
		break;
	case TMPL_CONTEXT_URL:
		html_urln(ctx->out, ctx->val.data, ctx->val.len);
		break;
	case TMPL_CONTEXT_URL_ARG:
		html_url_argn(ctx->out, ctx->val.data, ctx->val.len);
		break;
	case TMPL_CONTEXT_NONE:
		break;
	}
	buf_reset(&ctx->val);
}

static int
render(const struct tmpl *t, struct buf *out, tmpl_cb cb, void *arg, int depth)
{
	const struct tmpl_part *p;
	struct tmpl_ctx ctx;
	int rc = -1;
	size_t i;

	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.depth = depth;
	for (i = 0; i < t->nparts; i++) {
		p = &t->parts[i];
		buf_append(out, t->src + p->off, p->len);
		if (p->key == NO_KEY || cb == NULL)
			continue;
		ctx.context = p->ctx;
		ctx.nestable = p->nestable;
		if (cb(p->key, &ctx, arg) != 0 || ctx.failed || ctx.val.oom)
			goto out;
		flush(&ctx);
	}
	if (!out->oom)
		rc = 0;
out:
	buf_free(&ctx.val);
	return rc;
}

int
tmpl_render(const struct tmpl *t, struct buf *out, tmpl_cb cb, void *arg)
{
	return render(t, out, cb, arg, 0);
}

void
tmpl_putn(struct tmpl_ctx *ctx, const char *s, size_t n)
{
	buf_append(&ctx->val, s, n);
}

void
tmpl_put(struct tmpl_ctx *ctx, const char *s)
{
	if (s != NULL)  /* NULL (an absent optional value) renders nothing */
		buf_append(&ctx->val, s, strlen(s));
}

void
tmpl_putf(struct tmpl_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&ctx->val, fmt, ap);
	va_end(ap);
}

int
tmpl_nest(struct tmpl_ctx *ctx, const struct tmpl *sub, tmpl_cb cb, void *arg)
{
	if (!ctx->nestable || ctx->depth >= LIMIT_TEMPLATE_NEST_MAX || ctx->val.oom) {
		ctx->failed = 1;
		return -1;
	}
	flush(ctx);  /* keep what was put before the sub-template in front of it */
	if (render(sub, ctx->out, cb, arg, ctx->depth + 1) != 0) {
		ctx->failed = 1;
		return -1;
	}
	return 0;
}

enum tmpl_context
tmpl_ctx_context(const struct tmpl_ctx *ctx)
{
	return ctx->context;
}

struct tmpl_set *
tmpl_set_load(const char *dir, const struct tmpl_def *defs, size_t n, char *err, size_t errsz)
{
	struct tmpl_set *set;
	char path[4096];
	size_t i;

	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (n > 0 && (set->t = calloc(n, sizeof(*set->t))) == NULL)) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	set->n = n;
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, defs[i].file) >= sizeof(path)) {
			snprintf(err, errsz, "%s/%s: path too long", dir, defs[i].file);
			goto fail;
		}
		if ((set->t[i] = tmpl_load(path, defs[i].keys, defs[i].nkeys, err, errsz)) == NULL)
			goto fail;
	}
	return set;
fail:
	tmpl_set_free(set);
	return NULL;
}

const struct tmpl *
tmpl_set_get(const struct tmpl_set *set, size_t i)
{
	return i < set->n ? set->t[i] : NULL;
}

void
tmpl_set_free(struct tmpl_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; set->t != NULL && i < set->n; i++)
		tmpl_free(set->t[i]);
	free(set->t);
	free(set);
}
