/* interfaces.h — `--print-interfaces` (Windows: interfaces-windows.c), what a
 * user needs to pick --exclude-ifidx values. */
#ifndef HELLOSPLIT_INTERFACES_H
#define HELLOSPLIT_INTERFACES_H

#include <stdio.h>

/* Index, name and addresses of every interface, one block each: 0, or 1
 * with the reason printed. */
int interfaces_print(FILE *out);

#endif
