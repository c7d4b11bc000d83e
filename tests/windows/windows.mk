# windows.mk - make fragment for the Windows test foundation.
#
# In the top-level Makefile (run from the repository root):
#     include tests/windows/windows.mk
# then e.g.
#     make fake-windivert            # build/windows-test/WinDivert.dll
#     make windows-selftest          # build + run tests/windows/run_selftest.sh
# and let the hellosplit.exe e2e target depend on $(FAKE_WINDIVERT_DLL).
#
# Every name defined here starts with WINTEST_, FAKE_ or windows-/fake-, so
# it does not collide with the main Makefile.  All can be overridden.

WINTEST_DIR      ?= tests/windows
WINTEST_BUILD    ?= build/windows-test
WINTEST_INCLUDE  ?= src
MINGW_CC         ?= x86_64-w64-mingw32-gcc
WINTEST_CFLAGS   ?= -std=c11 -O2 -Wall -Wextra -Werror

FAKE_WINDIVERT_DLL  := $(WINTEST_BUILD)/WinDivert.dll
FAKE_SELFTEST_EXE   := $(WINTEST_BUILD)/fake_selftest.exe
# sends SERVICE_CONTROL_PARAMCHANGE (wine's sc has no `control`)
WINTEST_SVC_CONTROL := $(WINTEST_BUILD)/svc_control.exe
WINTEST_RUN_SELFTEST := $(WINTEST_DIR)/run_selftest.sh
# bash helpers for e2e scripts: ". $(WINTEST_ENV_SH)"
WINTEST_ENV_SH      := $(WINTEST_DIR)/wine_env.sh

$(FAKE_WINDIVERT_DLL): $(WINTEST_DIR)/fake_windivert.c $(WINTEST_DIR)/fake_windivert.def \
                       $(WINTEST_INCLUDE)/windivert_api.h
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINTEST_CFLAGS) -I$(WINTEST_INCLUDE) -shared -s -o $@ \
	    $(WINTEST_DIR)/fake_windivert.c $(WINTEST_DIR)/fake_windivert.def

$(FAKE_SELFTEST_EXE): $(WINTEST_DIR)/fake_selftest.c $(WINTEST_INCLUDE)/windivert_api.h
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINTEST_CFLAGS) -I$(WINTEST_INCLUDE) -o $@ $(WINTEST_DIR)/fake_selftest.c

$(WINTEST_SVC_CONTROL): $(WINTEST_DIR)/svc_control.c
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINTEST_CFLAGS) -o $@ $(WINTEST_DIR)/svc_control.c

.PHONY: fake-windivert windows-selftest
fake-windivert: $(FAKE_WINDIVERT_DLL)

windows-selftest: $(FAKE_WINDIVERT_DLL) $(FAKE_SELFTEST_EXE)
	$(WINTEST_RUN_SELFTEST) --no-build
