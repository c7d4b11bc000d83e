/* doctor.c — print the result of one check. */
#include "doctor.h"

#include <stdio.h>

void doctor_ok(const char *what)
{
	printf("  ok       %s\n", what);
}

void doctor_problem(struct doctor *d, const char *what, const char *fix)
{
	d->problems++;
	if (fix)
		printf("  PROBLEM  %s\n           fix: %s\n", what, fix);
	else
		printf("  PROBLEM  %s\n", what);
}

void doctor_note(const char *what)
{
	printf("  note     %s\n", what);
}
