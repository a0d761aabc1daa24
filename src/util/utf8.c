/* utf8.c: the UTF-8 sequence check shared by the upstream clients and the job runner (see utf8.h). */
#include "config.h"

#include "util/utf8.h"

size_t
tb_utf8_seq(const unsigned char *p, size_t n)
{
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		need = 1;
	else if (*p >= 0xe0 && *p <= 0xef) {
		need = 2;
		if (*p == 0xe0)
			lo = 0xa0;      /* overlong */
		else if (*p == 0xed)
			hi = 0x9f;      /* UTF-16 surrogates */
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		need = 3;
		if (*p == 0xf0)
			lo = 0x90;      /* overlong */
		else if (*p == 0xf4)
			hi = 0x8f;      /* above U+10FFFF */
	} else
		return 0;
	if (need >= n)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xbf;
		if (p[i] < l || p[i] > h)
			return 0;
	}
	return need + 1;
}
