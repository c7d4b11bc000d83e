/* main.c — command line, then offline mode or the platform's daemon.
 * No packet logic here. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "doctor.h"
#include "learned.h"
#include "log.h"
#include "pcapio.h"
#include "probe.h"
#include "service.h"

int main(int argc, char **argv)
{
	struct config cfg;
	int rc;

	if (argc > 1 && !strcmp(argv[1], "probe"))
		return probe_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "doctor"))
		return doctor_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "learned"))
		return learned_main(argc - 1, argv + 1, stdout, stderr);
#ifdef _WIN32
	if (argc > 1 && !strcmp(argv[1], "service"))
		return service_command(argc - 1, argv + 1);
#endif
	if ((rc = config_load(&cfg, argc, argv)) >= 0)
		return rc;
	log_verbosity = cfg.verbose;
	if (cfg.pcap_in)
		return pcapio_run(&cfg);
	return daemon_run(&cfg);
}
