/* test_file.c — file_replace: the target gets the bytes, and whatever sits at
 * PATH.tmp (a symlink or hard link to a victim, a stale file) is never
 * written through; the monotonic clock counts microseconds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _WIN32
#include <windows.h>
#endif

#include "file.h"
#include "test.h"

void test_file(void);

static char dir[512], target[600], tmp[600], victim[600];

/* dir/name, in a buffer that the next call reuses */
static const char *in_dir(const char *name)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* The whole file, NUL-terminated; "" when it cannot be read. */
static const char *contents(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

#ifdef _WIN32
static int make_dir(void)
{
	char base[MAX_PATH];

	if (!GetTempPathA(sizeof(base), base))
		return -1;
	snprintf(dir, sizeof(dir), "%shellosplit-file-%lu", base, GetCurrentProcessId());
	return CreateDirectoryA(dir, NULL) ? 0 : -1;
}

static int hard_link(const char *existing, const char *name)
{
	return CreateHardLinkA(name, existing, NULL) ? 0 : -1;
}

static void remove_dir(void)
{
	RemoveDirectoryA(dir);
}

/* A PATH.tmp that cannot be deleted (held open here without sharing
 * delete): file_replace writes another new name and leaves it alone. */
static void test_undeletable(void)
{
	HANDLE h;

	put(tmp, "held\n");
	h = CreateFileA(tmp, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
	CHECK(h != INVALID_HANDLE_VALUE);
	CHECK_EQ(file_replace(target, "beside a held file\n", 19), 0);
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	CHECK(!strcmp(contents(target), "beside a held file\n"));
	CHECK(!strcmp(contents(tmp), "held\n"));
	unlink(tmp);
}
#else
static int make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hellosplit-file-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int hard_link(const char *existing, const char *name)
{
	return link(existing, name);
}

static void remove_dir(void)
{
	rmdir(dir);
}

/* Symlinks, modes and open files: POSIX only (Windows needs a privilege for
 * symlinks). */
static void test_links_and_modes(void)
{
	struct stat st, held;
	char line[64];
	FILE *stale;
	mode_t old_mask;

	/* a link planted at the temporary name, pointing at a victim */
	CHECK_EQ(symlink(victim, tmp), 0);
	old_mask = umask(077);
	CHECK_EQ(file_replace(target, "through a symlink\n", 18), 0);
	umask(old_mask);
	CHECK(!strcmp(contents(victim), "victim\n"));
	CHECK(!strcmp(contents(target), "through a symlink\n"));
	CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0644);           /* 0644 whatever the umask */
	CHECK(lstat(tmp, &st) < 0 && errno == ENOENT);

	/* a stale file someone holds open: a new file replaces the target, the
	 * holder's file keeps its bytes (Windows refuses to delete an open file) */
	put(tmp, "stale\n");
	stale = fopen(tmp, "rb");
	CHECK(stale != NULL && fstat(fileno(stale), &held) == 0);
	CHECK_EQ(file_replace(target, "not the stale inode\n", 20), 0);
	CHECK(stat(target, &st) == 0 && st.st_ino != held.st_ino);
	CHECK(stale != NULL && fgets(line, sizeof(line), stale) && !strcmp(line, "stale\n"));
	if (stale)
		fclose(stale);

	/* a dangling link at the temporary name: nothing is created where it points */
	CHECK_EQ(symlink("created", tmp), 0);
	CHECK_EQ(file_replace(target, "dangling\n", 9), 0);
	CHECK(!exists(in_dir("created")));
	CHECK(!strcmp(contents(target), "dangling\n"));

	/* a link at the target itself is replaced, not written through */
	unlink(target);
	CHECK_EQ(symlink(victim, target), 0);
	CHECK_EQ(file_replace(target, "target was a link\n", 18), 0);
	CHECK(!strcmp(contents(victim), "victim\n"));
	CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(!strcmp(contents(target), "target was a link\n"));
}
#endif

/* The monotonic clock counts microseconds: a 50 ms sleep reads as 50 000 of
 * them (a clock in ms or ns would be 1000 times off), never backwards, and
 * monotonic_ms is the same clock. */
static void test_monotonic_clock(void)
{
	uint64_t us0 = monotonic_us(), ms0 = monotonic_ms(), us1, ms1;
#ifdef _WIN32
	Sleep(50);
#else
	struct timespec pause = {0, 50 * 1000 * 1000};

	nanosleep(&pause, NULL);
#endif
	us1 = monotonic_us();
	ms1 = monotonic_ms();
	CHECK(us1 >= us0 + 45000 && us1 <= us0 + 5000000);
	CHECK(ms1 >= ms0 + 45 && ms1 <= ms0 + 5000);
	CHECK(ms1 >= us1 / 1000 && ms1 <= us1 / 1000 + 1000);
	CHECK(monotonic_us() >= us1);
}

void test_file(void)
{
	char long_path[5000];

	test_monotonic_clock();

	if (make_dir()) {
		CHECK(!"cannot create a temporary folder");
		return;
	}
	snprintf(target, sizeof(target), "%s", in_dir("stats.json"));
	snprintf(tmp, sizeof(tmp), "%s", in_dir("stats.json.tmp"));
	snprintf(victim, sizeof(victim), "%s", in_dir("victim"));
	put(victim, "victim\n");

	CHECK_EQ(file_replace(target, "first\n", 6), 0);
	CHECK(!strcmp(contents(target), "first\n"));
	CHECK(!exists(tmp));
	CHECK_EQ(file_replace(target, "", 0), 0);
	CHECK(exists(target) && !strcmp(contents(target), ""));

	/* a stale temporary file, longer than the new content: not reused */
	put(tmp, "a stale temporary file, longer than what follows\n");
	CHECK_EQ(file_replace(target, "short\n", 6), 0);
	CHECK(!strcmp(contents(target), "short\n"));
	CHECK(!exists(tmp));

	/* a hard link to the victim at the temporary name: not written through */
	if (hard_link(victim, tmp) == 0) {
		CHECK_EQ(file_replace(target, "through a hard link\n", 20), 0);
		CHECK(!strcmp(contents(victim), "victim\n"));
		CHECK(!strcmp(contents(target), "through a hard link\n"));
		CHECK(!exists(tmp));
	} else {
		CHECK(!"cannot create a hard link in the temporary folder");
	}
#ifdef _WIN32
	test_undeletable();
#else
	test_links_and_modes();
#endif

	/* errors: -errno, errno set, no temporary file left */
	errno = 0;
	CHECK_EQ(file_replace(in_dir("no-such-folder/x.json"), "x", 1), -ENOENT);
	CHECK_EQ(errno, ENOENT);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = 0;
	CHECK_EQ(file_replace(long_path, "x", 1), -ENAMETOOLONG);
	CHECK_EQ(mkdir(in_dir("a-folder")
#ifndef _WIN32
		       , 0755
#endif
		       ), 0);
	CHECK(file_replace(in_dir("a-folder"), "x", 1) < 0);
	CHECK(!exists(in_dir("a-folder.tmp")));

	rmdir(in_dir("a-folder"));
	unlink(target);
	unlink(victim);
	remove_dir();
}
