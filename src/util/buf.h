/* buf.h: a growable byte buffer and a per-request arena. Neither exits on OOM: they report it. */
#ifndef TB_BUF_H
#define TB_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* Growable, always NUL-terminated once anything was appended. oom sticks once set. */
struct buf {
	char   *data;
	size_t  len;
	size_t  cap;
	int     oom;
};

#define BUF_INIT { NULL, 0, 0, 0 }

int   buf_reserve(struct buf *b, size_t extra) __attribute__((warn_unused_result));
/* Like buf_reserve(), but growth copies into a fresh block and wipes the old one instead of realloc(),
 * which would free a copy of the content unwiped: for buffers that hold secrets. 0 or -1 (b->oom set). */
int   buf_reserve_wiped(struct buf *b, size_t extra) __attribute__((warn_unused_result));
void  buf_append(struct buf *b, const void *p, size_t n);
void  buf_puts(struct buf *b, const char *s);
void  buf_putc(struct buf *b, char c);
/* s (UTF-8, NUL-terminated) as a JSON string, quotes included: '"', '\\' and control characters escaped. */
void  buf_json_string(struct buf *b, const char *s);
void  buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void  buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void  buf_reset(struct buf *b);          /* keeps the allocation */
void  buf_free(struct buf *b);           /* frees and zeroes */
void  buf_wipe_free(struct buf *b);      /* for secrets: cleanse, then free */
char *buf_steal(struct buf *b);          /* caller owns the returned string (never NULL unless oom) */

/* Arena: bump allocator whose blocks are all freed by arena_free(). Used for one request or one job. */
struct arena_block;
struct arena {
	struct arena_block *head;
	size_t              used;   /* bytes handed out, for metrics */
};

#define ARENA_INIT { NULL, 0 }

void *arena_alloc(struct arena *a, size_t n);                 /* 16-byte aligned, zeroed; NULL on OOM */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void  arena_reset(struct arena *a);   /* frees all but the first block, for reuse across requests */
void  arena_free(struct arena *a);

#endif
