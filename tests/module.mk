# tests/module.mk - test targets beyond `make test` (included by the Makefile).
#
#   make asan-hostile           the GGUF reader's unit test and the hostile
#                               files through lm-step --info, under
#                               AddressSanitizer + UBSan (build/asan)
#   make fuzz [FUZZ_TIME=S]     build tests/fuzz/fuzz-gguf.c with clang and
#                               libFuzzer (+ASan +UBSan) and fuzz the reader for
#                               S seconds (default 60); seeds are the files the
#                               unit test writes (test-gguf -w), the corpus grows
#                               in tests/fuzz/corpus-run/ (ignored by git), crash
#                               reproducers land in build/fuzz/
#   make fuzz-build             only build build/fuzz/fuzz-gguf

.PHONY: asan-hostile asan-hostile-run fuzz-build fuzz-cov

asan-hostile:
	$(MAKE) SAN=1 asan-hostile-run

asan-hostile-run: $(BINDIR)/lm-step $(B)/tests/test-gguf
	$(TEST_ENV) $(PROVE) $(PROVE_FLAGS) $(B)/tests/test-gguf tests/gguf-hostile.t

FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_ARGS ?= -max_len=16384 -timeout=10 -rss_limit_mb=2048
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# The target reads hyper-parameters (forward/model.c and the architecture
# table); the forward pass the table points at comes unfuzzed from the
# normal build's libforward.a (it is not run, and the kernels take minutes
# to compile with the sanitizers).
FUZZ_SRCS = tests/fuzz/fuzz-gguf.c $(filter-out $(PROG_SRCS),$(wildcard common/*.c)) forward/model.c \
	$(wildcard forward/arch*.c)
FUZZ_LIBS = $(B)/libforward.a

build/fuzz/fuzz-gguf: $(FUZZ_SRCS) $(wildcard common/*.h forward/*.h) $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) -o $@ $(FUZZ_SRCS) $(FUZZ_LIBS) -pthread $(LDLIBS)

fuzz-build: build/fuzz/fuzz-gguf

fuzz: build/fuzz/fuzz-gguf $(B)/tests/test-gguf
	rm -rf build/fuzz/seeds
	$(B)/tests/test-gguf -w build/fuzz/seeds >/dev/null
	rm -f build/fuzz/seeds/*.msg
	if [ -f models/smollm2-135m-instruct-q4_1.gguf ]; then \
		head -c 16384 models/smollm2-135m-instruct-q4_1.gguf > build/fuzz/seeds/smollm2-head.gguf; fi
	mkdir -p tests/fuzz/corpus-run
	build/fuzz/fuzz-gguf $(FUZZ_ARGS) -dict=tests/fuzz/gguf.dict -artifact_prefix=build/fuzz/ \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 tests/fuzz/corpus-run build/fuzz/seeds

# make fuzz-cov: line and branch coverage of the reader (and the layers the
# target drives) over the fuzz corpus and the seeds, with llvm-cov.
FUZZ_COV_FLAGS := -g -O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping
LLVM_PROFDATA ?= llvm-profdata
LLVM_COV ?= llvm-cov

build/fuzz/fuzz-gguf-cov: $(FUZZ_SRCS) $(wildcard common/*.h forward/*.h) $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(FUZZ_COV_FLAGS) -o $@ $(FUZZ_SRCS) $(FUZZ_LIBS) -pthread $(LDLIBS)

fuzz-cov: build/fuzz/fuzz-gguf-cov
	mkdir -p tests/fuzz/corpus-run build/fuzz/seeds
	LLVM_PROFILE_FILE=build/fuzz/cov.profraw build/fuzz/fuzz-gguf-cov -runs=0 tests/fuzz/corpus-run build/fuzz/seeds
	$(LLVM_PROFDATA) merge -sparse build/fuzz/cov.profraw -o build/fuzz/cov.profdata
	$(LLVM_COV) report build/fuzz/fuzz-gguf-cov -instr-profile=build/fuzz/cov.profdata \
		common/gguf.c forward/model.c common/vocab.c
