# tests/module.mk - test targets beyond `make test` (included by the Makefile).
#
#   make asan-hostile           the GGUF reader's unit test and the hostile
#                               files through lm-step --info, under
#                               AddressSanitizer + UBSan (build/asan)
#   make fuzz [FUZZ_TIME=S]     every libFuzzer target below, S seconds each
#   make fuzz-gguf              build tests/fuzz/fuzz-gguf.c with clang and
#                               libFuzzer (+ASan +UBSan) and fuzz the GGUF reader
#                               for S seconds (default 60); seeds are the files the
#                               unit test writes (test-gguf -w), the corpus grows
#                               in tests/fuzz/corpus-run/ (ignored by git), crash
#                               reproducers land in build/fuzz/
#   make fuzz-safetensors       the same for the safetensors reader (headers and
#                               indexes), seeded by test-safetensors -w, corpus in
#                               tests/fuzz/corpus-run-safetensors/
#   make fuzz-hfconfig          config.json of a model directory (hf_open) over
#                               a tiny llama's weights, seeded by the configs of
#                               test-safetensors -w and tests/fixtures/hf/,
#                               corpus in tests/fuzz/corpus-run-hfconfig/
#   make fuzz-cmd-extract       cmd-extract's extraction, shell reader, rule table
#                               and code strings, seeded by the commands of
#                               tests/fixtures/cmd-risk.tsv, corpus in
#                               tests/fuzz/corpus-run-cmd-extract/
#   make fuzz-logits            the logits and token stream readers and the
#                               sampler, as lm-sample uses them, seeded by
#                               test-logits -w, corpus in tests/fuzz/corpus-run-logits/
#   make fuzz-schema            the JSON Schema compiler and its machine (a schema,
#                               NUL, an output), corpus in tests/fuzz/corpus-run-schema/
#   make fuzz-regress           every target once over the inputs of its past
#                               findings, tests/fuzz/regress/TARGET/ (make fuzz
#                               runs them first)
#   make fuzz-build             only build the targets into build/fuzz/
#   make hfdirs                 the test models as Hugging Face directories made
#                               by transformers from their GGUF files, in
#                               HFDIRS (default tests/ref/cache, ignored by git),
#                               for tests/hf-real.t and tests/bench/hf-bench.sh;
#                               needs python3 with torch and transformers and
#                               about 6 GB
#   make neon-test              the NEON kernel families on aarch64: the
#                               forward pass cross-compiled with
#                               gcc-aarch64-linux-gnu into build/aarch64 and
#                               run under qemu-user (tests/install-deps.sh
#                               installs both, and libjq for arm64):
#                               test-quant (every kernel against its
#                               reference), test-forward (the tiny models)
#                               and SmolLM2's greedy fixture through lm-step

.PHONY: asan-hostile asan-hostile-run fuzz-build fuzz-cov fuzz-regress fuzz-gguf fuzz-safetensors fuzz-hfconfig fuzz-cmd-extract fuzz-logits fuzz-schema hfdirs neon-test neon-build test-cluster deps-cluster

HFDIRS ?= tests/ref/cache
hfdirs:
	python3 tests/ref/make-hfdirs.py models $(HFDIRS)

# make deps-cluster     install what the cluster tests need (GNU parallel,
#                       sshd, rsync, Slurm, MUNGE; tests/install-deps.sh --cluster)
# make test-cluster     run them: tests/cluster-*.t (make test runs them too,
#                       and reports them skipped, with the reason, without
#                       those packages)
deps-cluster:
	sh tests/install-deps.sh --cluster

test-cluster: all
	$(TEST_ENV) $(PROVE) $(PROVE_FLAGS) $(wildcard tests/cluster-*.t)

asan-hostile:
	$(MAKE) SAN=1 asan-hostile-run

asan-hostile-run: $(BINDIR)/lm-step $(B)/tests/test-gguf $(B)/tests/test-safetensors
	$(TEST_ENV) $(PROVE) $(PROVE_FLAGS) $(B)/tests/test-gguf tests/gguf-hostile.t \
		$(B)/tests/test-safetensors tests/safetensors-hostile.t

FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_ARGS ?= -max_len=16384 -timeout=10 -rss_limit_mb=2048
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# fuzz-gguf also reads hyper-parameters (forward/model.c and the
# architecture table); the forward pass the table points at comes unfuzzed
# from the normal build's libforward.a (it is not run, and the kernels take
# minutes to compile with the sanitizers).
FUZZ_LIB_SRCS = $(filter-out $(PROG_SRCS),$(wildcard common/*.c))
FUZZ_GGUF_SRCS = tests/fuzz/fuzz-gguf.c $(FUZZ_LIB_SRCS) forward/model.c $(wildcard forward/arch*.c)
FUZZ_GGUF_LIBS = $(B)/libforward.a
FUZZ_TARGETS := gguf safetensors hfconfig cmd-extract logits schema
FUZZ_CMD_SRCS = tests/fuzz/fuzz-cmd-extract.c sample/extract.c sample/shellparse.c sample/risk.c sample/codestr.c \
	$(FUZZ_LIB_SRCS)
FUZZ_LOGITS_SRCS = tests/fuzz/fuzz-logits.c sample/sampler.c $(FUZZ_LIB_SRCS)
FUZZ_SCHEMA_SRCS = tests/fuzz/fuzz-schema.c sample/schema.c sample/constrain.c $(FUZZ_LIB_SRCS)

build/fuzz/fuzz-gguf: $(FUZZ_GGUF_SRCS) $(wildcard common/*.h forward/*.h) $(FUZZ_GGUF_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) -o $@ $(FUZZ_GGUF_SRCS) $(FUZZ_GGUF_LIBS) -pthread $(LDLIBS)

build/fuzz/fuzz-safetensors: tests/fuzz/fuzz-safetensors.c $(FUZZ_LIB_SRCS) $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_SRCS) -pthread $(LDLIBS)

build/fuzz/fuzz-hfconfig: tests/fuzz/fuzz-hfconfig.c $(FUZZ_GGUF_SRCS) $(wildcard common/*.h forward/*.h) $(FUZZ_GGUF_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) -o $@ $< $(filter-out tests/fuzz/fuzz-gguf.c,$(FUZZ_GGUF_SRCS)) \
		$(FUZZ_GGUF_LIBS) -pthread $(LDLIBS)

build/fuzz/fuzz-cmd-extract: $(FUZZ_CMD_SRCS) $(wildcard common/*.h sample/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) -o $@ $(FUZZ_CMD_SRCS) -pthread $(LDLIBS)

build/fuzz/fuzz-logits: $(FUZZ_LOGITS_SRCS) $(wildcard common/*.h sample/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) -o $@ $(FUZZ_LOGITS_SRCS) -pthread $(LDLIBS)

build/fuzz/fuzz-schema: $(FUZZ_SCHEMA_SRCS) $(wildcard common/*.h sample/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Wall -Wextra $(FUZZ_FLAGS) -o $@ $(FUZZ_SCHEMA_SRCS) -pthread $(LDLIBS)

fuzz-build: $(addprefix build/fuzz/fuzz-,$(FUZZ_TARGETS))

fuzz: fuzz-regress $(addprefix fuzz-,$(FUZZ_TARGETS))

fuzz-regress: fuzz-build
	for t in $(FUZZ_TARGETS); do \
		if [ -d tests/fuzz/regress/$$t ]; then build/fuzz/fuzz-$$t -runs=0 tests/fuzz/regress/$$t || exit 1; fi; \
	done

fuzz-gguf: build/fuzz/fuzz-gguf $(B)/tests/test-gguf
	rm -rf build/fuzz/seeds
	$(B)/tests/test-gguf -w build/fuzz/seeds >/dev/null
	rm -f build/fuzz/seeds/*.msg
	if [ -f models/smollm2-135m-instruct-q4_1.gguf ]; then \
		head -c 16384 models/smollm2-135m-instruct-q4_1.gguf > build/fuzz/seeds/smollm2-head.gguf; fi
	mkdir -p tests/fuzz/corpus-run
	build/fuzz/fuzz-gguf $(FUZZ_ARGS) -dict=tests/fuzz/gguf.dict -artifact_prefix=build/fuzz/ \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 tests/fuzz/corpus-run build/fuzz/seeds

# seeds: every weights file and index the unit test writes, flattened
fuzz-safetensors: build/fuzz/fuzz-safetensors $(B)/tests/test-safetensors
	rm -rf build/fuzz/st-cases build/fuzz/st-seeds
	$(B)/tests/test-safetensors -w build/fuzz/st-cases >/dev/null
	mkdir -p build/fuzz/st-seeds tests/fuzz/corpus-run-safetensors
	find build/fuzz/st-cases -type f \( -name '*.safetensors' -o -name '*.index.json' \) | \
		while read -r f; do cp "$$f" "build/fuzz/st-seeds/$$(echo "$$f" | tr / _)"; done
	build/fuzz/fuzz-safetensors $(FUZZ_ARGS) -dict=tests/fuzz/safetensors.dict -artifact_prefix=build/fuzz/ \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 tests/fuzz/corpus-run-safetensors build/fuzz/st-seeds

# seeds: every config.json the unit test writes, and those of the tiny
# models transformers saved (tests/fixtures/hf/)
fuzz-hfconfig: build/fuzz/fuzz-hfconfig $(B)/tests/test-safetensors
	rm -rf build/fuzz/st-cases build/fuzz/hfconfig-seeds
	$(B)/tests/test-safetensors -w build/fuzz/st-cases >/dev/null
	mkdir -p build/fuzz/hfconfig-seeds tests/fuzz/corpus-run-hfconfig
	for f in build/fuzz/st-cases/*/config.json; do \
		cp "$$f" "build/fuzz/hfconfig-seeds/$$(basename "$$(dirname "$$f")")"; done
	for f in tests/fixtures/hf/*.txt; do \
		awk '/^text config.json /{ on = 1; next } on && /^(text|shard|ids) /{ exit } on' "$$f" \
			> "build/fuzz/hfconfig-seeds/$$(basename "$$f" .txt)"; done
	build/fuzz/fuzz-hfconfig $(FUZZ_ARGS) -dict=tests/fuzz/hfconfig.dict -artifact_prefix=build/fuzz/ \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 tests/fuzz/corpus-run-hfconfig build/fuzz/hfconfig-seeds

# seeds: each command of the table (<NL> a line break), and answers
fuzz-cmd-extract: build/fuzz/fuzz-cmd-extract
	rm -rf build/fuzz/cmd-seeds
	mkdir -p build/fuzz/cmd-seeds tests/fuzz/corpus-run-cmd-extract
	grep -v -e '^#' -e '^$$' tests/fixtures/cmd-risk.tsv | cut -f3- | \
		awk '{ gsub(/<NL>/, "\n"); f = sprintf("build/fuzz/cmd-seeds/row%03d", NR); printf "%s", $$0 > f; close(f) }'
	printf '{"cmd": "ls -la /tmp"}' > build/fuzz/cmd-seeds/answer-json
	printf 'Here:\n```sh\n$$ du -sh *\n```\n' > build/fuzz/cmd-seeds/answer-fence
	printf 'Use `git log` to see it.\n' > build/fuzz/cmd-seeds/answer-inline
	build/fuzz/fuzz-cmd-extract $(FUZZ_ARGS) -dict=tests/fuzz/cmd.dict -artifact_prefix=build/fuzz/ \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 tests/fuzz/corpus-run-cmd-extract build/fuzz/cmd-seeds

fuzz-logits: build/fuzz/fuzz-logits $(B)/tests/test-logits
	rm -rf build/fuzz/logits-seeds
	$(B)/tests/test-logits -w build/fuzz/logits-seeds
	mkdir -p tests/fuzz/corpus-run-logits
	build/fuzz/fuzz-logits $(FUZZ_ARGS) -dict=tests/fuzz/logits.dict -artifact_prefix=build/fuzz/ \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 tests/fuzz/corpus-run-logits build/fuzz/logits-seeds

# seeds: each fixture schema, alone and with an output that test-schema's
# random walk wrote for it
fuzz-schema: build/fuzz/fuzz-schema $(B)/tests/test-schema
	rm -rf build/fuzz/schema-seeds build/fuzz/schema-walks
	mkdir -p build/fuzz/schema-seeds build/fuzz/schema-walks tests/fuzz/corpus-run-schema
	$(B)/tests/test-schema -w build/fuzz/schema-walks > /dev/null
	for f in tests/fixtures/schema/*.json; do \
		b=$$(basename $$f .json); cp $$f build/fuzz/schema-seeds/$$b; \
		{ cat $$f; printf '\000'; head -n 1 build/fuzz/schema-walks/$$b.txt | jq -j .; } > build/fuzz/schema-seeds/$$b-out; \
	done
	build/fuzz/fuzz-schema $(FUZZ_ARGS) -dict=tests/fuzz/schema.dict -artifact_prefix=build/fuzz/ \
		-max_total_time=$(FUZZ_TIME) -print_final_stats=1 tests/fuzz/corpus-run-schema build/fuzz/schema-seeds

# make fuzz-cov: line and branch coverage of the reader (and the layers the
# target drives) over the fuzz corpus and the seeds, with llvm-cov.
FUZZ_COV_FLAGS := -g -O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping
LLVM_PROFDATA ?= llvm-profdata
LLVM_COV ?= llvm-cov

build/fuzz/fuzz-gguf-cov: $(FUZZ_GGUF_SRCS) $(wildcard common/*.h forward/*.h) $(FUZZ_GGUF_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(FUZZ_COV_FLAGS) -o $@ $(FUZZ_GGUF_SRCS) $(FUZZ_GGUF_LIBS) -pthread $(LDLIBS)

fuzz-cov: build/fuzz/fuzz-gguf-cov
	mkdir -p tests/fuzz/corpus-run build/fuzz/seeds
	LLVM_PROFILE_FILE=build/fuzz/cov.profraw build/fuzz/fuzz-gguf-cov -runs=0 tests/fuzz/corpus-run build/fuzz/seeds
	$(LLVM_PROFDATA) merge -sparse build/fuzz/cov.profraw -o build/fuzz/cov.profdata
	$(LLVM_COV) report build/fuzz/fuzz-gguf-cov -instr-profile=build/fuzz/cov.profdata \
		common/gguf.c forward/model.c common/vocab.c

# ---- aarch64 under qemu-user ----
# Only the forward pass and what it needs (common/, libjq): lm-step,
# test-quant and test-forward.  /usr/include comes last for jq.h, which
# Debian's libjq-dev:arm64 shares with the host.
A64_CC ?= aarch64-linux-gnu-gcc
A64_RUN ?= qemu-aarch64
A64 := build/aarch64
A64_OBJS := $(patsubst %.c,$(A64)/obj/%.o,$(call LIB_SRCS,forward) $(call LIB_SRCS,common))
A64_CFLAGS = -std=c11 -O2 -g -Wall -Wextra -pthread -idirafter /usr/include
A64_LDLIBS := -L/usr/lib/aarch64-linux-gnu -Wl,-rpath-link=/usr/lib/aarch64-linux-gnu -ljq -lm
# GREEDY_PROMPTS: how many of SmolLM2's 20 greedy prompts (emulation is slow)
GREEDY_PROMPTS ?= 2

$(A64)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(A64_CC) $(CPPFLAGS) $(A64_CFLAGS) -MMD -MP -c $< -o $@
$(A64)/obj/forward/steps.o: A64_CFLAGS += -ffp-contract=fast

$(A64)/bin/lm-step: $(A64)/obj/forward/lm-step.o $(A64_OBJS)
	@mkdir -p $(dir $@)
	$(A64_CC) -pthread -o $@ $^ $(A64_LDLIBS)

$(A64)/tests/%: $(A64)/obj/tests/unit/%.o $(A64_OBJS)
	@mkdir -p $(dir $@)
	$(A64_CC) -pthread -o $@ $^ $(A64_LDLIBS)

# programs run through qemu by name, for the shell tests
$(A64)/qemu-bin/lm-step: $(A64)/bin/lm-step
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec $(A64_RUN) %s "$$@"\n' "$(abspath $<)" > $@
	chmod +x $@

neon-build: $(A64)/bin/lm-step $(A64)/tests/test-quant $(A64)/tests/test-forward $(A64)/qemu-bin/lm-step

neon-test: neon-build all unit-tests
	LMU_TEST_EMULATOR=$(A64_RUN) LMU_MODELS=$(abspath models) $(PROVE) $(PROVE_FLAGS) -e $(A64_RUN) \
		$(A64)/tests/test-quant $(A64)/tests/test-forward
	$(TEST_ENV) LMU_BIN=$(abspath $(A64)/qemu-bin) LMU_GREEDY_ONLY=$(GREEDY_PROMPTS) \
		$(PROVE) $(PROVE_FLAGS) tests/lm-step-smollm2.t

-include $(wildcard $(A64)/obj/*/*.d $(A64)/obj/tests/unit/*.d)
