/* test_hostlist.c — domain lists: suffix semantics, normalisation, bad lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlist.h"
#include "test.h"

void test_hostlist(void);

static int match(const struct hostlist *h, const char *name)
{
	return hostlist_match(h, (const uint8_t *)name, strlen(name));
}

static void suffix_semantics(void)
{
	struct hostlist h;
	char err[200];

	memset(&h, 0, sizeof(h));
	CHECK_EQ(hostlist_add(&h, "Example.COM", 11, err, sizeof(err)), 0);
	CHECK_EQ(hostlist_add(&h, "xn--80ak6aa92e.com.", 19, err, sizeof(err)), 0);
	CHECK_EQ(hostlist_add(&h, ".blocked.example", 16, err, sizeof(err)), 0);
	CHECK_EQ(hostlist_add(&h, "example.com", 11, err, sizeof(err)), 1);   /* already there */
	CHECK(match(&h, "example.com"));
	CHECK(match(&h, "EXAMPLE.com"));
	CHECK(match(&h, "www.example.com"));
	CHECK(match(&h, "a.b.c.example.com"));
	CHECK(match(&h, "example.com."));
	CHECK(!match(&h, "badexample.com"));
	CHECK(!match(&h, "example.co"));
	CHECK(!match(&h, "com"));
	CHECK(!match(&h, "example.com.evil"));
	CHECK(!match(&h, ""));
	CHECK(match(&h, "xn--80ak6aa92e.com"));
	CHECK(match(&h, "www.blocked.example"));
	CHECK(!match(&h, "blocked.example.org"));
	hostlist_free(&h);
	CHECK(!match(&h, "example.com"));           /* an empty list matches nothing */
}

static void bad_names(void)
{
	static const char *const bad[] = {"", ".", "a..b", "*.example.com", "exa mple.com", "ex/ample",
					  "b\xc3\xbc" "cher.de"};
	struct hostlist h;
	char err[200], label[80];
	size_t i;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK_EQ(hostlist_add(&h, bad[i], strlen(bad[i]), err, sizeof(err)), -1);
		CHECK(err[0] != 0);
	}
	memset(label, 'a', 64);
	memcpy(label + 64, ".com", 5);
	CHECK_EQ(hostlist_add(&h, label, strlen(label), err, sizeof(err)), -1);
	CHECK(strstr(err, "63") != NULL);
	CHECK_EQ(h.count, 0);
	hostlist_free(&h);
}

static void load_file_with_errors(void)
{
	char path[] = "/tmp/hellosplit-hosts-XXXXXX", buf[2048];
	FILE *f = fdopen(mkstemp(path), "w"), *err;
	struct hostlist h;

	fprintf(f, "# blocked\nwww.blocked.example\n  example.org  # trailing comment\n\n*.bad.example\nok.example\n"
		   "bad name\n");
	fclose(f);
	err = test_memopen(buf, sizeof(buf));
	CHECK_EQ(hostlist_load(&h, path, err), -1);
	test_memclose(err);
	CHECK(strstr(buf, ":5: '*.bad.example'") != NULL);
	CHECK(strstr(buf, ":7: 'bad name'") != NULL);
	CHECK(strstr(buf, ":2:") == NULL);
	f = fopen(path, "w");
	fprintf(f, "www.blocked.example\r\n  example.org  # trailing comment\n");
	fclose(f);
	err = test_memopen(buf, sizeof(buf));
	CHECK_EQ(hostlist_load(&h, path, err), 0);
	test_memclose(err);
	CHECK_EQ(h.count, 2);
	CHECK(match(&h, "mail.example.org"));
	hostlist_free(&h);
	unlink(path);
	err = test_memopen(buf, sizeof(buf));
	CHECK_EQ(hostlist_load(&h, "/nonexistent/hosts", err), -1);
	test_memclose(err);
	CHECK(strstr(buf, "cannot open host list '/nonexistent/hosts'") != NULL);
}

static void many_names(void)
{
	struct hostlist h;
	char name[64], err[100];
	int i, missing = 0, extra = 0;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < 100000; i++) {
		int n = snprintf(name, sizeof(name), "host%d.example%d.net", i, i % 97);

		hostlist_add(&h, name, (size_t)n, err, sizeof(err));
	}
	CHECK_EQ(h.count, 100000);
	for (i = 0; i < 100000; i += 7) {
		snprintf(name, sizeof(name), "www.host%d.example%d.net", i, i % 97);
		missing += !match(&h, name);
		snprintf(name, sizeof(name), "xhost%d.example%d.net", i, i % 97);
		extra += match(&h, name);
	}
	CHECK_EQ(missing, 0);
	CHECK_EQ(extra, 0);
	hostlist_free(&h);
}

void test_hostlist(void)
{
	suffix_semantics();
	bad_names();
	load_file_with_errors();
	many_names();
}
