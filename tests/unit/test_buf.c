/* test_buf.c: unit tests of src/util/buf.c (growable buffers and per-request arenas). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/buf.h"
#include "check.h"

static void
test_buf_append(void)
{
	struct buf b = BUF_INIT;

	CHECK(b.data == NULL && b.len == 0);
	buf_append(&b, "abc", 3);
	CHECK_INT(b.len, 3);
	CHECK_STR(b.data, "abc");
	buf_append(&b, "", 0);
	CHECK_INT(b.len, 3);
	buf_puts(&b, "def");
	buf_putc(&b, '!');
	CHECK_STR(b.data, "abcdef!");
	CHECK_INT(b.len, 7);
	/* Binary data with a NUL is kept whole, and the buffer stays NUL-terminated after it. */
	buf_append(&b, "x\0y", 3);
	CHECK_INT(b.len, 10);
	CHECK(memcmp(b.data + 7, "x\0y", 3) == 0 && b.data[10] == '\0');
	CHECK_INT(b.oom, 0);
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

	/* Appending nothing to an empty buffer still gives a terminated string. */
	buf_append(&b, "", 0);
	CHECK(b.data != NULL);
	CHECK_STR(b.data, "");
	buf_free(&b);
}

static void
test_buf_printf(void)
{
	struct buf b = BUF_INIT;
	char big[1000];

	buf_printf(&b, "%d-%s-%c", 42, "x", 'y');
	CHECK_STR(b.data, "42-x-y");
	CHECK_INT(b.len, 6);
	buf_printf(&b, "%s", "");
	CHECK_INT(b.len, 6);
	/* A format result larger than the current capacity. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "[%s]", big);
	CHECK_INT(b.len, 6 + 2 + 999);
	CHECK(b.data[6] == '[' && b.data[7] == 'z' && b.data[b.len - 1] == ']' && b.data[b.len] == '\0');
	CHECK_INT(strlen(b.data), b.len);
	buf_free(&b);
}

static void
test_buf_growth(void)
{
	struct buf b = BUF_INIT;
	size_t i, cap_before, bad = 0;

	for (i = 0; i < 100000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	CHECK_INT(b.len, 100000);
	CHECK(b.cap > b.len);
	CHECK_INT(strlen(b.data), 100000);
	for (i = 0; i < b.len; i++)
		bad += b.data[i] != (char)('a' + i % 26);
	CHECK_INT(bad, 0);

	/* Reserve then fill without reallocating. */
	buf_reset(&b);
	CHECK_INT(buf_reserve(&b, 500000), 0);
	cap_before = b.cap;
	CHECK(cap_before >= 500001);
	for (i = 0; i < 500000; i++)
		buf_putc(&b, 'q');
	CHECK_INT(b.cap, cap_before);
	CHECK_INT(b.len, 500000);

	/* An impossible reservation sets oom, which sticks and makes appends no-ops. */
	CHECK_INT(buf_reserve(&b, SIZE_MAX - 10), -1);
	CHECK_INT(b.oom, 1);
	buf_puts(&b, "more");
	CHECK_INT(b.len, 500000);
	CHECK_INT(buf_reserve(&b, 1), -1);
	/* steal reports the failure and frees. */
	CHECK(buf_steal(&b) == NULL);
	CHECK(b.data == NULL && b.len == 0 && b.oom == 0);
}

static void
test_buf_steal_reset(void)
{
	struct buf b = BUF_INIT;
	char *s;
	size_t cap;

	/* Stealing from an empty buffer gives an owned "" string. */
	s = buf_steal(&b);
	CHECK(s != NULL);
	CHECK_STR(s, "");
	free(s);

	buf_puts(&b, "hello");
	s = buf_steal(&b);
	CHECK_STR(s, "hello");
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
	free(s);
	/* The buffer is reusable after a steal. */
	buf_puts(&b, "again");
	CHECK_STR(b.data, "again");

	/* reset keeps the allocation, empties the string and clears oom. */
	cap = b.cap;
	buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.cap, cap);
	CHECK_STR(b.data, "");
	b.oom = 1;
	buf_reset(&b);
	CHECK_INT(b.oom, 0);
	buf_puts(&b, "x");
	CHECK_STR(b.data, "x");
	buf_wipe_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

	/* reset and both frees are safe on a never-used buffer. */
	buf_reset(&b);
	buf_free(&b);
	buf_wipe_free(&b);
	CHECK(b.data == NULL);
}

static void
test_arena(void)
{
	struct arena a = ARENA_INIT;
	unsigned char *p, *q, *big;
	char *s;
	size_t i, nz = 0, misaligned = 0;

	p = arena_alloc(&a, 1);
	q = arena_alloc(&a, 3);
	CHECK(p != NULL && q != NULL && p != q);
	CHECK_INT(a.used, 32);
	/* 16-byte alignment for every size, and zeroed memory. */
	for (i = 0; i < 200; i++) {
		p = arena_alloc(&a, i);
		if (p == NULL || ((uintptr_t)p & 15) != 0)
			misaligned++;
		else {
			for (size_t j = 0; j < i; j++)
				nz += p[j] != 0;
			memset(p, 0xee, i);   /* must not disturb neighbours (ASan would see overflow) */
		}
	}
	CHECK_INT(misaligned, 0);
	CHECK_INT(nz, 0);
	/* Larger than a block: its own block, still aligned and zeroed. */
	big = arena_alloc(&a, 100000);
	CHECK(big != NULL && ((uintptr_t)big & 15) == 0);
	if (big) {
		CHECK(big[0] == 0 && big[99999] == 0);
		memset(big, 1, 100000);
	}
	/* Allocation after a big block still works. */
	p = arena_alloc(&a, 8);
	CHECK(p != NULL && p[0] == 0);

	s = arena_strdup(&a, "hello");
	CHECK_STR(s, "hello");
	s = arena_strdup(&a, "");
	CHECK_STR(s, "");
	s = arena_strndup(&a, "abcdef", 3);
	CHECK_STR(s, "abc");
	s = arena_printf(&a, "%s=%d", "n", 7);
	CHECK_STR(s, "n=7");
	s = arena_printf(&a, "%s", "");
	CHECK_STR(s, "");

	/* reset: used back to 0, memory reusable and zeroed again. */
	arena_reset(&a);
	CHECK_INT(a.used, 0);
	CHECK(a.head != NULL);
	p = arena_alloc(&a, 64);
	CHECK(p != NULL);
	if (p) {
		for (i = 0; i < 64; i++)
			nz += p[i] != 0;
		CHECK_INT(nz, 0);
	}
	s = arena_printf(&a, "%05d", 42);
	CHECK_STR(s, "00042");

	arena_free(&a);
	CHECK(a.head == NULL);
	CHECK_INT(a.used, 0);
	/* Free and reset of an empty arena, and reuse after free. */
	arena_free(&a);
	arena_reset(&a);
	s = arena_strdup(&a, "after");
	CHECK_STR(s, "after");
	arena_free(&a);
}

/* JSON strings: what must be escaped is, the rest (UTF-8 included) passes as it is; jansson agrees. */
static void
test_buf_json_string(void)
{
	struct buf b = BUF_INIT;
	const char *in = "a\"b\\c/\x01\n\x1f\x7f é ✓";
	json_t *back;

	buf_json_string(&b, "");
	CHECK_STR(b.data, "\"\"");
	buf_reset(&b);
	buf_json_string(&b, in);
	CHECK_STR(b.data, "\"a\\\"b\\\\c/\\u0001\\u000a\\u001f\x7f é ✓\"");
	back = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
	CHECK(json_is_string(back) && strcmp(json_string_value(back), in) == 0);
	json_decref(back);
	buf_free(&b);
}

int
main(void)
{
	test_buf_append();
	test_buf_json_string();
	test_buf_printf();
	test_buf_growth();
	test_buf_steal_reset();
	test_arena();
	return CHECK_DONE("test_buf");
}
