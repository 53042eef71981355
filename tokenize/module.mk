# tokenize/module.mk - included by the Makefile.
#
#   make unicode-tables   regenerate tokenize/unicode_data.c (character
#                         classes) and tokenize/norm_data.c (NFC) from
#                         Debian's unicode-data package (the results are
#                         committed, so a normal build does not need it)
#   make tok-bench        tok-encode MB/s against Hugging Face tokenizers

UCD ?= /usr/share/unicode

.PHONY: unicode-tables tok-bench
unicode-tables:
	python3 tokenize/gen_unicode.py $(UCD)/UnicodeData.txt > tokenize/unicode_data.c.tmp
	python3 tokenize/gen_norm.py $(UCD) > tokenize/norm_data.c.tmp
	mv tokenize/unicode_data.c.tmp tokenize/unicode_data.c
	mv tokenize/norm_data.c.tmp tokenize/norm_data.c

tok-bench: all
	sh tests/bench/tok-bench.sh

# the unit test reaches into the tokenizer's headers
$(B)/obj/tests/unit/test-tokenize.o: CPPFLAGS += -Itokenize
