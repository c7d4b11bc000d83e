/* service.h — `hellosplit service install|uninstall|start|stop` (Windows:
 * service-windows.c; main.c dispatches to it only in the Windows build). */
#ifndef HELLOSPLIT_SERVICE_H
#define HELLOSPLIT_SERVICE_H

/* argv[0] is "service". Returns the exit code: 0, 1 runtime failure, 2 usage. */
int service_command(int argc, char **argv);

#endif
