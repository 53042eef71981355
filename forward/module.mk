# The forward pass's vector code (GCC vector extensions in steps.c) is
# written as a * b + c; -std=c11 turns contraction off, and without it
# those become a multiply and an add instead of one fused multiply-add.
$(B)/obj/forward/steps.o: CFLAGS += -ffp-contract=fast

$(B)/obj/tests/unit/test-batch.o: CPPFLAGS += -Iforward -Isample
# lm-batch: the engine with the sampler (sample/) and the tokenizer (tokenize/)
$(B)/obj/forward/lm-batch.o: CPPFLAGS += -Isample -Itokenize
