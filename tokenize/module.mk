# tokenize/module.mk - included by the Makefile.
#
#   make unicode-tables   regenerate tokenize/unicode_data.c from Debian's
#                         unicode-data package (the result is committed, so
#                         a normal build does not need the package)
#   make tok-bench        tok-encode MB/s against Hugging Face tokenizers

UNICODE_DATA ?= /usr/share/unicode/UnicodeData.txt

.PHONY: unicode-tables tok-bench
unicode-tables:
	python3 tokenize/gen_unicode.py $(UNICODE_DATA) > tokenize/unicode_data.c.tmp
	mv tokenize/unicode_data.c.tmp tokenize/unicode_data.c

tok-bench: all
	sh tests/bench/tok-bench.sh

# the unit test reaches into the tokenizer's headers
$(B)/obj/tests/unit/test-tokenize.o: CPPFLAGS += -Itokenize
