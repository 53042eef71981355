# The forward pass's vector code (GCC vector extensions in llama.c) is
# written as a * b + c; -std=c11 turns contraction off, and without it
# those become a multiply and an add instead of one fused multiply-add.
$(B)/obj/forward/llama.o: CFLAGS += -ffp-contract=fast
