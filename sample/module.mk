# sample/module.mk - lm-sample's unit test includes sample/; `make run`.

$(B)/obj/tests/unit/test-sampler.o $(B)/obj/tests/unit/test-recommend.o: CPPFLAGS += -Isample
# oai.c reads chat messages (tokenize/chat.h); lm-sample reads oai.h
$(B)/obj/sample/oai.o $(B)/obj/sample/lm-sample.o: CPPFLAGS += -Itokenize

# make run PROMPT="..."  builds everything, fetches the default model if it
# is missing, and generates with it through lm-run (the README's first
# command).  RUN_MODEL and RUNFLAGS (more lm-run options) may be given too;
# PROMPT reaches lm-run through the environment, so no quoting can break it.
RUN_MODEL ?= models/smollm2-135m-instruct-q4_1.gguf
PROMPT ?= Write a haiku about pipes.
export PROMPT
.PHONY: run
run: all
	@test -f "$(RUN_MODEL)" || $(MAKE) model
	PATH="$(abspath $(BINDIR)):$(abspath bin):$$PATH" sh bin/lm-run -m "$(RUN_MODEL)" $(RUNFLAGS) "$$PROMPT"
