/* templates_admin.c: the marker names of the admin pages' templates, generated from the key lists in
 * templates_admin.h so they always match the enums the handlers use. */
#include "config.h"

#include "http/templates_admin.h"

#define TK_DEFINE(list, tag) const char *const tag##_keys[list##__MAX] = { list(TK_NAME) };
TK_ALL(TK_DEFINE)
#undef TK_DEFINE
