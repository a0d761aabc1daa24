/* utf8.h: the one UTF-8 sequence check, for text that comes from outside (upstream bodies, errors) and must
 * reach a person or a PostgreSQL text column intact. Pure. */
#ifndef TB_UTF8_H
#define TB_UTF8_H

#include <stddef.h>

/* Length (1 to 4) of the valid UTF-8 sequence at p, reading at most n bytes (n > 0); 0 when the bytes are
 * not one (a bad lead or continuation byte, overlong, a surrogate, above U+10FFFF, or cut at n). */
size_t tb_utf8_seq(const unsigned char *p, size_t n);

#endif
