# hellosplit — one plain Makefile.
#   make                  build/hellosplit for this machine
#   make run              install what it needs, build, run the daemon (root)
#   make check            install test dependencies, build and run every test
#   make PLATFORM=windows build/windows/hellosplit.exe (mingw-w64)
#   make PLATFORM=android build/android-arm64/hellosplit, build/android-arm/hellosplit
#   make STATIC=1         build/static/hellosplit (static x86_64)

PLATFORM ?= $(shell uname -s | tr A-Z a-z)
STATIC ?=
PREFIX ?= /usr/local
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) -fno-strict-aliasing
HARDEN = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
HARDEN_LD = -pie -Wl,-z,relro,-z,now

CORE = packet flow reasm tls split hold hostlist engine stats config log pcapio
LINUX_ADAPTER = nfqueue rules linux doctor-linux
SRC = $(addprefix src/,$(addsuffix .c,$(CORE) $(LINUX_ADAPTER) main))
HDR = $(wildcard src/*.h)

UNIT_SRC = $(wildcard tests/unit/test_*.c) tests/unit/runner.c
CORE_SRC = $(addprefix src/,$(addsuffix .c,$(CORE)))

ifeq ($(STATIC),1)
OUT = build/static
LDSTATIC = -static
HARDEN = -fstack-protector-strong -D_FORTIFY_SOURCE=2
HARDEN_LD =
else
OUT = build
LDSTATIC =
endif

.PHONY: all run check unit unit-asan clean deps test-deps offline bench-offline install uninstall docs

all: $(OUT)/hellosplit

$(OUT)/hellosplit: $(SRC) $(HDR) Makefile
	@mkdir -p $(OUT)
	$(CC) $(BASE_CFLAGS) $(HARDEN) $(CFLAGS) -o $@ $(SRC) $(HARDEN_LD) $(LDSTATIC) $(LDFLAGS)

# ---- benchmarks (not run by make check)

BENCH_CORE = $(addprefix src/,$(addsuffix .c,packet flow reasm tls split hold hostlist engine stats))

build/bench/%: bench/%.c $(BENCH_CORE) $(HDR)
	@mkdir -p build/bench
	$(CC) $(BASE_CFLAGS) -O2 -g -Isrc -o $@ $< $(BENCH_CORE)

bench-offline: all build/bench/gencap build/bench/engine_bench
	bench/offline.sh build/bench

# ---- tests

build/unit/run: $(UNIT_SRC) $(CORE_SRC) $(HDR) tests/unit/test.h Makefile
	@mkdir -p build/unit
	$(CC) $(BASE_CFLAGS) -O1 -g -Isrc -o $@ $(UNIT_SRC) $(CORE_SRC)

build/asan/run: $(UNIT_SRC) $(CORE_SRC) $(HDR) tests/unit/test.h Makefile
	@mkdir -p build/asan
	$(CC) $(BASE_CFLAGS) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer -Isrc -o $@ $(UNIT_SRC) $(CORE_SRC)

unit: build/unit/run
	build/unit/run

unit-asan: build/asan/run
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/run

offline: $(OUT)/hellosplit
	tests/offline/run.sh $(OUT)/hellosplit

docs: all
	tests/docs/check_docs.sh $(OUT)/hellosplit

check: test-deps all unit unit-asan offline docs

deps:
	scripts/install-deps.sh run

test-deps:
	scripts/install-deps.sh test

run: deps all
	$(OUT)/hellosplit $(ARGS)

# ---- install (Linux)

SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man
SYSTEMDDIR ?= /etc/systemd/system

install: all
	install -D -m 0755 $(OUT)/hellosplit $(DESTDIR)$(SBINDIR)/hellosplit
	install -D -m 0644 doc/hellosplit.8 $(DESTDIR)$(MANDIR)/man8/hellosplit.8
	@mkdir -p $(DESTDIR)$(SYSTEMDDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/systemd/hellosplit.service > $(DESTDIR)$(SYSTEMDDIR)/hellosplit.service
	@if [ -e $(DESTDIR)/etc/hellosplit.conf ]; then echo "keeping $(DESTDIR)/etc/hellosplit.conf"; \
	else install -D -m 0644 dist/hellosplit.conf $(DESTDIR)/etc/hellosplit.conf; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/hellosplit $(DESTDIR)$(MANDIR)/man8/hellosplit.8 \
		$(DESTDIR)$(SYSTEMDDIR)/hellosplit.service
	@echo "kept /etc/hellosplit.conf (remove it by hand if you wish)"

clean:
	rm -rf build

# ---- static builds: Android (aarch64, armv7), STATIC=1 (x86_64), and their checks
# Static glibc cannot load NSS modules: users are read from /etc/passwd
# (linux.c), and --fatal-warnings keeps it so, since glibc warns at link time
# about every NSS call in a static program.

ANDROID_CC_arm64 = aarch64-linux-gnu-gcc
ANDROID_CC_arm = arm-linux-gnueabihf-gcc
ANDROID_BIN = build/android-arm64/hellosplit build/android-arm/hellosplit
ANDROID_UNIT = build/android-arm64/unit build/android-arm/unit
STATIC_LD = -static -Wl,--fatal-warnings

build/android-%/hellosplit: $(SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(ANDROID_CC_$*) $(BASE_CFLAGS) -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(CFLAGS) -o $@ $(SRC) $(STATIC_LD)

build/android-%/unit: $(UNIT_SRC) $(CORE_SRC) $(HDR) tests/unit/test.h Makefile
	@mkdir -p $(@D)
	$(ANDROID_CC_$*) $(BASE_CFLAGS) -O1 -g -Isrc -o $@ $(UNIT_SRC) $(CORE_SRC) $(STATIC_LD)

build/hellosplit-magisk.zip: $(ANDROID_BIN) $(shell find dist/magisk -type f) Makefile
	dist/magisk/build-zip.sh $@ $(ANDROID_BIN)

.PHONY: android android-check magisk-check
android: $(ANDROID_BIN)

# Cross-built unit tests and offline runs under qemu-user, compared byte for
# byte with this machine's build; then the Magisk module's structure.
android-check: $(ANDROID_BIN) $(ANDROID_UNIT) build/hellosplit
	$(MAKE) STATIC=1 build/static/hellosplit
	tests/android/qemu_check.sh
	$(MAKE) PLATFORM=android magisk-check

magisk-check: build/hellosplit-magisk.zip
	tests/android/check_magisk.sh build/hellosplit-magisk.zip

check: android-check

ifeq ($(PLATFORM),android)
all: android
dist: build/hellosplit-magisk.zip
endif
