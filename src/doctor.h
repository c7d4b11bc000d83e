/* doctor.h — the lines of `hellosplit doctor`, the same on every platform:
 * one per check, a fix under each problem. Each platform's doctor-*.c makes
 * the checks. */
#ifndef HELLOSPLIT_DOCTOR_H
#define HELLOSPLIT_DOCTOR_H

struct doctor {
	int problems;
};

void doctor_ok(const char *what);
void doctor_problem(struct doctor *d, const char *what, const char *fix);
void doctor_note(const char *what);

/* `hellosplit doctor [OPTIONS]`: checks this machine, one line each with a
 * fix. Returns 0 when all is good, 1 when problems were listed, 2 on usage.
 * Defined by the platform's doctor-*.c. */
int doctor_main(int argc, char **argv);

#endif
