/* doctor.h — the lines of `hellosplit doctor`, the same on every platform:
 * one per check, a fix under each problem. Each platform's doctor-*.c (or
 * divert.c) makes the checks. */
#ifndef HELLOSPLIT_DOCTOR_H
#define HELLOSPLIT_DOCTOR_H

struct doctor {
	int problems;
};

void doctor_ok(const char *what);
void doctor_problem(struct doctor *d, const char *what, const char *fix);
void doctor_note(const char *what);

#endif
