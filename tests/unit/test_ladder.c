/* test_ladder.c — the ladder: its rungs, their order, the user's rung first. */
#include <errno.h>

#include "ladder.h"
#include "test.h"

void test_ladder(void);

void test_ladder(void)
{
	static const char *const want[] = {"5", "midsld", "1", "sni+1", "1,midsld", "1,midsld,sniend-1"};
	struct ladder l;
	struct split_spec spec;
	char err[80];
	int i;

	CHECK_EQ(ladder_build(&l, NULL), 0);
	CHECK_EQ(l.count, 6);
	for (i = 0; i < l.count && i < 6; i++) {
		CHECK(!strcmp(l.rungs[i].text, want[i]));
		CHECK(l.rungs[i].why && strlen(l.rungs[i].why) > 20);   /* every rung says why */
		CHECK_EQ(ladder_find(&l, want[i]), i);
	}
	CHECK(strstr(l.rungs[0].why, "first packet") != NULL);
	/* No rung is cut-for-cut another one, and each has no more cuts than the next. */
	for (i = 1; i < l.count; i++)
		CHECK(l.rungs[i - 1].spec.count <= l.rungs[i].spec.count);
	CHECK_EQ(ladder_find(&l, "sni"), -1);

	/* The user's --split-at comes first; a built-in rung equal to it is not repeated. */
	CHECK_EQ(split_spec_parse(&spec, "midsld+0", err, sizeof(err)), 0);
	CHECK_EQ(ladder_build(&l, &spec), 0);
	CHECK_EQ(l.count, 5);
	CHECK(!strcmp(l.rungs[0].text, "midsld") && !strcmp(l.rungs[1].text, "1"));
	CHECK(strstr(l.rungs[0].why, "your --split-at") != NULL);
	CHECK_EQ(ladder_find(&l, "5"), -1);
	CHECK_EQ(split_spec_parse(&spec, "2,sni", err, sizeof(err)), 0);
	CHECK_EQ(ladder_build(&l, &spec), 0);
	CHECK_EQ(l.count, 6);
	CHECK(!strcmp(l.rungs[0].text, "2,sni") && !strcmp(l.rungs[1].text, "midsld"));
	CHECK_EQ(split_spec_parse(&spec, "5", err, sizeof(err)), 0);     /* 5 given: the default's reason */
	CHECK_EQ(ladder_build(&l, &spec), 0);
	CHECK(strstr(l.rungs[0].why, "first packet") != NULL);

	spec.count = 0;
	CHECK_EQ(ladder_build(&l, &spec), -EINVAL);
}
