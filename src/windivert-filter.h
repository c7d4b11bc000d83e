/* windivert-filter.h — the WinDivert filter built from the flags
 * (windivert-filter.c, portable). */
#ifndef HELLOSPLIT_WINDIVERT_FILTER_H
#define HELLOSPLIT_WINDIVERT_FILTER_H

#include <stddef.h>

#include "config.h"

/* The WinDivert filter for these flags. Returns 0, or -1 with the reason in err
 * (a usage error: the flags make a filter WinDivert cannot take). */
int windivert_filter(const struct config *cfg, char *out, size_t n, char *err, size_t errlen);

#endif
