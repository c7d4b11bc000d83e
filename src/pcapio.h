/* pcapio.h — offline mode: run the engine over a classic pcap file. */
#ifndef HELLOSPLIT_PCAPIO_H
#define HELLOSPLIT_PCAPIO_H

#include "config.h"

/* Returns the process exit code: 0, 1 (I/O or format error, printed). */
int pcapio_run(const struct config *cfg);

#endif
