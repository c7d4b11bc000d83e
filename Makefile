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

# Each source list once. ENGINE: the portable engine (no I/O, no clock), the
# part fuzzed and benchmarked. STATS: the counters and their file (file.h:
# file-posix for every build but Windows, which takes file-windows, below).
# CORE: what every daemon and the unit tests share: the daemon loop, the
# command line, offline mode, doctor's lines and the probe.
ENGINE = packet flow reasm tls split ladder learn hold hostlist engine ports
STATS = stats file-posix
CORE = $(ENGINE) $(STATS) daemon config log pcapio doctor learned learner tc-plan
# `hellosplit probe`. Static glibc has no name resolver (see STATIC_LD): the
# static builds take probe-resolve-static (addresses only, --ip). A Windows
# build takes probe-windows (link -lws2_32) instead of both probe-posix files.
PROBE_NET = probe-posix probe-resolve
PROBE = clienthello probe probe-run probe-report $(PROBE_NET)
CORE += $(PROBE)
# The platforms' pure parts, portable and unit-tested everywhere: the Linux
# firewall rules as data (rules-linux runs them), the nfnetlink message walk
# (nfqueue), the WinDivert filter (windivert).
CORE += rules nlmsg windivert-filter
# The tc engine (src/tc.c, the program src/tc.bpf.c embedded through
# bpftool's skeleton, linked with libbpf); builds without libbpf (STATIC=1,
# Android) take tc-none instead: nfqueue only.
TC_ENGINE = tc
LINUX_ADAPTER = nfqueue rules-linux daemon-linux doctor-linux $(TC_ENGINE)
SRC = $(addprefix src/,$(addsuffix .c,$(CORE) $(LINUX_ADAPTER) main))
# FreeBSD: the daemon and doctor over struct divert_io, whose implementation is
# divert (the divert(4) socket) on FreeBSD, divert-sim (the stand-in) on Linux.
DIVERT_ADAPTER = daemon-freebsd doctor-freebsd
DIVERT_SRC = $(addprefix src/,$(addsuffix .c,$(CORE) divert $(DIVERT_ADAPTER) main))
DIVERT_SIM_SRC = $(addprefix src/,$(addsuffix .c,$(CORE) divert-sim $(DIVERT_ADAPTER) main))
ifeq ($(PLATFORM),freebsd)
SRC = $(DIVERT_SRC)
endif
HDR = $(wildcard src/*.h)

UNIT_SRC = $(wildcard tests/unit/test_*.c) tests/unit/runner.c
CORE_SRC = $(addprefix src/,$(addsuffix .c,$(CORE)))

ifeq ($(STATIC),1)
OUT = build/static
TC_ENGINE = tc-none
LDSTATIC = $(STATIC_LD)
PROBE_NET = probe-posix probe-resolve-static
HARDEN = -fstack-protector-strong -D_FORTIFY_SOURCE=2
HARDEN_LD =
else
OUT = build
LDSTATIC =
endif

.PHONY: all run check unit unit-asan clean deps test-deps offline e2e bench-offline bench-daemon bench-fallbacks bench-learn bench-flood bench-hostlist install uninstall docs

# `make` builds this machine's binary; PLATFORM=windows, android or
# freebsd-sim build only theirs (below).
.DEFAULT_GOAL := all
.PHONY: all
ifeq ($(filter windows android freebsd-sim,$(PLATFORM)),)
all: $(OUT)/hellosplit
endif

# The tc program: clang -target bpf, then a skeleton header carrying the object.
BPF_CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool || echo /usr/sbin/bpftool)
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
ifeq ($(TC_ENGINE),tc)
TC_SKEL = build/tc.skel.h
TC_CFLAGS = -Ibuild
TC_LIBS = -lbpf -lelf -lz
endif

build/tc.bpf.o: src/tc.bpf.c src/tc-abi.h Makefile
	@mkdir -p build
	$(BPF_CLANG) -O2 -g -target bpf -Wall -Wextra -Werror $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH)) -Isrc \
		-c $< -o $@

build/tc.skel.h: build/tc.bpf.o
	$(BPFTOOL) gen skeleton $< name tc_bpf > $@.tmp && mv $@.tmp $@

$(OUT)/hellosplit: $(SRC) $(HDR) Makefile $(TC_SKEL)
	@mkdir -p $(OUT)
	$(CC) $(BASE_CFLAGS) $(HARDEN) $(CFLAGS) $(TC_CFLAGS) -o $@ $(SRC) $(HARDEN_LD) $(LDSTATIC) $(LDFLAGS) $(TC_LIBS)

# ---- benchmarks (not run by make check)

BENCH_CORE = $(addprefix src/,$(addsuffix .c,$(ENGINE) $(STATS)))

build/bench/hsclient: bench/hsclient.c bench/bench.h
	@mkdir -p build/bench
	$(CC) $(BASE_CFLAGS) -O2 -g -o $@ $< -lssl -lcrypto

build/bench/%: bench/%.c bench/bench.h $(BENCH_CORE) $(HDR)
	@mkdir -p build/bench
	$(CC) $(BASE_CFLAGS) -O2 -g -Isrc -o $@ $< $(BENCH_CORE)

bench-offline: all build/bench/gencap build/bench/engine_bench
	bench/offline.sh build/bench

bench-daemon: test-deps all build/bench/hsclient
	bench/daemon.sh

# How often each fallback of the tc engine fires per real client and setup
# (desktop, router GRO off/on): its counters and a server-side capture.
bench-fallbacks: test-deps all
	bench/fallbacks.sh

# What learning costs per connection: handshakes/s against --no-learn.
bench-learn: test-deps all build/bench/hsclient
	bench/learn.sh

# Hash flooding: tuples crafted to collide in the flow table vs random ones.
bench-flood: build/bench/flood_bench
	build/bench/flood_bench 16384 2

bench-hostlist: build/bench/hostlist_bench
	build/bench/hostlist_bench 1000000 build/bench/hosts.txt

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

# The daemon built with AddressSanitizer and UndefinedBehaviorSanitizer, for
# the offline runs (same output as the plain build, or the test fails).
build/asan/hellosplit: $(SRC) $(HDR) Makefile $(TC_SKEL)
	@mkdir -p build/asan
	$(CC) $(BASE_CFLAGS) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
		$(TC_CFLAGS) -o $@ $(SRC) $(TC_LIBS)

offline: $(OUT)/hellosplit build/asan/hellosplit
	tests/offline/run.sh $(OUT)/hellosplit build/asan/hellosplit

e2e: all
	tests/e2e/run.sh

docs: all
	tests/docs/check_docs.sh $(OUT)/hellosplit

# Everything, in this order (the README's test command; CI runs it as root).
check: test-deps
	$(MAKE) all unit unit-asan offline docs lint valgrind fuzz-check divert-check android-check windows-check e2e
	@echo "make check: all passed"

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
# (daemon-linux.c), and --fatal-warnings keeps it so, since glibc warns at link time
# about every NSS call in a static program.

ANDROID_CC_arm64 = aarch64-linux-gnu-gcc
ANDROID_CC_arm = arm-linux-gnueabihf-gcc
ANDROID_BIN = build/android-arm64/hellosplit build/android-arm/hellosplit
ANDROID_UNIT = build/android-arm64/unit build/android-arm/unit
STATIC_LD = -static -Wl,--fatal-warnings
build/android-%/hellosplit build/android-%/unit: PROBE_NET = probe-posix probe-resolve-static
build/android-%/hellosplit: TC_ENGINE = tc-none

# Without the cross compilers, say which Debian packages bring them.
.PHONY: android-toolchain
android-toolchain:
	@for cc in $(ANDROID_CC_arm64) $(ANDROID_CC_arm); do command -v $$cc >/dev/null || { \
		echo "make: $$cc not found: install Debian's cross compilers with" \
			"'sudo apt-get install gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf'" \
			"(or 'sudo scripts/install-deps.sh test')." >&2; exit 1; }; done

build/android-%/hellosplit: $(SRC) $(HDR) Makefile | android-toolchain
	@mkdir -p $(@D)
	$(ANDROID_CC_$*) $(BASE_CFLAGS) -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(CFLAGS) -o $@ $(SRC) $(STATIC_LD)

build/android-%/unit: $(UNIT_SRC) $(CORE_SRC) $(HDR) tests/unit/test.h Makefile | android-toolchain
	@mkdir -p $(@D)
	$(ANDROID_CC_$*) $(BASE_CFLAGS) -O1 -g -Isrc -o $@ $(UNIT_SRC) $(CORE_SRC) $(STATIC_LD)

build/hellosplit-magisk.zip: $(ANDROID_BIN) $(wildcard dist/magisk/* dist/magisk/META-INF/com/google/android/*) Makefile
	scripts/magisk-zip.sh $@ $(ANDROID_BIN)

.PHONY: android android-check magisk-check dist
android: $(ANDROID_BIN)

# Cross-built unit tests and offline runs under qemu-user, compared byte for
# byte with this machine's build; the Magisk module; the OpenWrt files; as
# root, the rules inside an emulation of Android's netd in namespaces.
android-check: $(ANDROID_BIN) $(ANDROID_UNIT)
	$(MAKE) STATIC= build/hellosplit
	$(MAKE) STATIC=1 build/static/hellosplit
	tests/android/qemu_check.sh
	$(MAKE) magisk-check
	tests/openwrt/check_openwrt.sh
	@if [ "$$(id -u)" = 0 ]; then tests/android/test_rules.sh; \
	else echo "note: not root: tests/android/test_rules.sh skipped"; fi

magisk-check: build/hellosplit-magisk.zip
	tests/android/check_magisk.sh build/hellosplit-magisk.zip

ifeq ($(PLATFORM),android)
all: android
dist: build/hellosplit-magisk.zip
endif

# ---- FreeBSD, pfSense, OPNsense: the divert(4) daemon (src/daemon-freebsd.c, src/divert.c)
#   gmake                      on FreeBSD (PLATFORM=freebsd): build/hellosplit
#   make PLATFORM=freebsd-sim  build/divert-sim/hellosplit: the same adapter over
#                              a socket pair, tested on Linux by tests/divert/run.sh

build/divert-sim/hellosplit: $(DIVERT_SIM_SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -DHELLOSPLIT_DIVERT $(HARDEN) $(CFLAGS) -o $@ $(DIVERT_SIM_SRC) $(HARDEN_LD) $(LDFLAGS)

.PHONY: divert-check
divert-check: build/divert-sim/hellosplit build/hellosplit
	tests/divert/run.sh build/divert-sim/hellosplit

ifeq ($(PLATFORM),freebsd-sim)
all: build/divert-sim/hellosplit
endif

# ---- Windows 10/11 x64: the WinDivert adapter (src/windivert.c), mingw-w64
#   make PLATFORM=windows      build/windows/hellosplit.exe (static; WinDivert.dll
#                              is loaded at run time from the exe's directory)
#   make PLATFORM=windows dist WINDIVERT_ZIP=WinDivert-2.2.2-A.zip
#                              build/hellosplit-windows.zip
#   make windows-check         unit tests and the exe under wine against the fake
#                              WinDivert.dll of tests/windows (part of make check)

WIN_CC = x86_64-w64-mingw32-gcc
WIN_CORE = $(filter-out probe-posix probe-resolve probe-resolve-static file-posix,$(CORE)) \
	probe-windows probe-resolve file-windows
WIN_ADAPTER = windivert daemon-windows util-windows interfaces-windows service-windows doctor-windows
WIN_SRC = $(addprefix src/,$(addsuffix .c,$(WIN_CORE) $(WIN_ADAPTER) main))
WIN_CORE_SRC = $(addprefix src/,$(addsuffix .c,$(WIN_CORE)))
WIN_CFLAGS = -O2 -D_WIN32_WINNT=0x0A00 -fstack-protector-strong
WIN_LD = -static -Wl,--dynamicbase,--nxcompat,--high-entropy-va -lws2_32 -liphlpapi
WINDIVERT_ZIP ?=

build/windows/hellosplit.exe: $(WIN_SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(WIN_CC) $(BASE_CFLAGS) $(WIN_CFLAGS) -o $@ $(WIN_SRC) $(WIN_LD)

# Test build only, never shipped: HELLOSPLIT_TEST_NOT_ELEVATED=1 makes it
# act as a non-Administrator (wine always runs elevated).
build/windows-test/hellosplit-hooks.exe: $(WIN_SRC) $(HDR) Makefile
	@mkdir -p $(@D)
	$(WIN_CC) $(BASE_CFLAGS) $(WIN_CFLAGS) -DHELLOSPLIT_TEST_HOOKS -o $@ $(WIN_SRC) $(WIN_LD)

build/windows/unit.exe: $(UNIT_SRC) $(WIN_CORE_SRC) $(HDR) tests/unit/test.h Makefile
	@mkdir -p $(@D)
	$(WIN_CC) $(BASE_CFLAGS) -O1 -Isrc -o $@ $(UNIT_SRC) $(WIN_CORE_SRC) -static -lws2_32

include tests/windows/windows.mk

.PHONY: windows windows-check build/hellosplit-windows.zip
windows: build/windows/hellosplit.exe

windows-check: build/windows/hellosplit.exe build/windows/unit.exe build/windows-test/hellosplit-hooks.exe \
		$(FAKE_WINDIVERT_DLL) $(WINTEST_SVC_CONTROL)
	$(MAKE) STATIC= build/hellosplit
	tests/windows/run.sh

# Always run: without WINDIVERT_ZIP it says what to download and fails.
build/hellosplit-windows.zip: build/windows/hellosplit.exe
	scripts/windows-zip.sh $@ build/windows/hellosplit.exe "$(WINDIVERT_ZIP)"

ifeq ($(PLATFORM),windows)
all: windows
dist: build/hellosplit-windows.zip
endif

# ---- hostile input (doc/testing.md layer 7): fuzzing, static analysis, valgrind
#   make fuzz [FUZZ_SECONDS=300]  each libFuzzer harness FUZZ_SECONDS seconds; new inputs
#                                 in build/fuzz/work-*, crashes kept as
#                                 tests/fuzz/corpus/<harness>/regress-*
#   make fuzz-check               the whole corpus replayed, then each harness 15 s (≈ 60 s)
#   make fuzz-coverage            line coverage of the engine sources by the corpus
#   make fuzz-merge               adds the work inputs that reach new edges to the corpus
#   make lint                     cppcheck and clang-tidy over src/ (.clang-tidy,
#                                 .clang-tidy-suppressions, .cppcheck-suppressions): zero findings
#   make valgrind                 unit tests and offline runs under memcheck

FUZZ_CC = clang
FUZZ_HARNESSES = packet tls split engine learn nlmsg
FUZZ_CORE = $(addprefix src/,$(addsuffix .c,$(ENGINE) nlmsg))
FUZZ_DEPS = $(FUZZ_CORE) $(HDR) tests/fuzz/fuzz.h tests/fuzz/ref_packet.h tests/unit/vectors.h \
	tests/fuzz/coverage-ignore.txt Makefile
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) -g -O1 -fno-omit-frame-pointer -Isrc -Itests/fuzz
FUZZ_SECONDS ?= 300
FUZZ_CHECK_SECONDS ?= 15

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt -o $@ $< $(FUZZ_CORE)

build/fuzz-cov/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_NO_ABORT -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
		-o $@ $< $(FUZZ_CORE)

# fuzz_tc: the tc program (the object the daemon embeds, through its
# skeleton) run by BPF_PROG_TEST_RUN in a namespace of its own (root); in
# fuzz, fuzz-check and fuzz-merge, not in fuzz-coverage (the coverage that
# counts is the BPF program's, which clang's does not see).
FUZZ_TC = $(if $(filter tc,$(TC_ENGINE)),tc)
build/fuzz/fuzz_tc: tests/fuzz/fuzz_tc.c tests/fuzz/fuzz.h src/tc-abi.h build/tc.skel.h Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ibuild -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ $< -lbpf -lelf -lz

.PHONY: fuzz fuzz-check fuzz-coverage fuzz-merge lint valgrind
fuzz: $(addprefix build/fuzz/fuzz_,$(FUZZ_HARNESSES) $(FUZZ_TC))
	HARNESSES="$(FUZZ_HARNESSES) $(FUZZ_TC)" tests/fuzz/run.sh fuzz $(FUZZ_SECONDS)

fuzz-check: $(addprefix build/fuzz/fuzz_,$(FUZZ_HARNESSES) $(FUZZ_TC))
	HARNESSES="$(FUZZ_HARNESSES) $(FUZZ_TC)" tests/fuzz/run.sh check $(FUZZ_CHECK_SECONDS)

fuzz-coverage: $(addprefix build/fuzz-cov/fuzz_,$(FUZZ_HARNESSES))
	HARNESSES="$(FUZZ_HARNESSES)" tests/fuzz/run.sh coverage

fuzz-merge: $(addprefix build/fuzz/fuzz_,$(FUZZ_HARNESSES) $(FUZZ_TC))
	HARNESSES="$(FUZZ_HARNESSES) $(FUZZ_TC)" tests/fuzz/run.sh merge

# cppcheck and clang-tidy over every source: the POSIX ones (Linux, static,
# divert) as built here, the Windows ones (and the files with _WIN32 parts)
# for a mingw-w64 target.
LINT_SRC = $(sort $(SRC) $(DIVERT_SIM_SRC) src/probe-resolve-static.c)
# The divert(4) socket compiles for FreeBSD only: clang's FreeBSD target over
# this machine's headers, the two FreeBSD constants given (tests/divert/run.sh).
LINT_BSD_SRC = src/divert.c
LINT_BSD_DEFS = -D__FreeBSD__ -DIPPROTO_DIVERT=258 -DPF_DIVERT=44
LINT_BSD_CFLAGS = --target=x86_64-unknown-freebsd14.1 $(BASE_CFLAGS) -Isrc -isystem /usr/include/x86_64-linux-gnu \
	-isystem /usr/include $(LINT_BSD_DEFS)
LINT_WIN_SRC = $(sort $(filter-out $(LINT_SRC),$(WIN_SRC)) src/config.c src/learned.c src/main.c)
CPPCHECK = cppcheck --std=c11 --enable=warning,style,performance,portability --inline-suppr --quiet \
	--error-exitcode=1 --suppressions-list=.cppcheck-suppressions -D_GNU_SOURCE -Isrc
lint: $(TC_SKEL)
	$(CPPCHECK) -D__linux__ $(TC_CFLAGS) $(LINT_SRC) bench/hsclient.c
	$(CPPCHECK) -D_WIN32 -D_WIN32_WINNT=0x0A00 $(LINT_WIN_SRC)
	$(CPPCHECK) $(LINT_BSD_DEFS) $(LINT_BSD_SRC)
	LINT_CFLAGS="$(BASE_CFLAGS) -Isrc $(TC_CFLAGS)" \
	LINT_WIN_CFLAGS="--target=x86_64-w64-mingw32 $(BASE_CFLAGS) -D_WIN32_WINNT=0x0A00 -Isrc" \
	LINT_BSD_CFLAGS="$(LINT_BSD_CFLAGS)" \
		tests/lint/clang-tidy.sh $(LINT_SRC) bench/hsclient.c --windows $(LINT_WIN_SRC) --freebsd $(LINT_BSD_SRC)

VALGRIND = valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
	--track-origins=yes --quiet
# The unit tests, then offline runs over the real captures (two option sets)
# and the synthetic edge cases; each run's valgrind report in build/valgrind/.
valgrind: build/unit/run build/hellosplit
	@mkdir -p build/valgrind
	$(VALGRIND) build/unit/run
	@for pcap in tests/captures/*.pcap tests/offline/pcaps/*.pcap; do \
		for opts in "" "--split-at 1,sni,midsld --tls-complete handshake"; do \
			case $$pcap in tests/offline/*) [ -z "$$opts" ] || continue ;; esac; \
			name=$$(basename $$pcap .pcap)$${opts:+-opts}; \
			if $(VALGRIND) --log-file=build/valgrind/$$name.txt build/hellosplit $$opts --pcap-in $$pcap \
				--pcap-out build/valgrind/$$name.pcap >/dev/null 2>&1; then \
				echo "valgrind: clean: hellosplit $$opts --pcap-in $$pcap"; \
			else \
				cat build/valgrind/$$name.txt; echo "valgrind: FAILED: hellosplit $$opts --pcap-in $$pcap"; exit 1; \
			fi; \
		done; \
	done
