# fetch/module.mk - the fetch unit test includes fetch/'s headers.
$(B)/obj/tests/unit/test-fetch.o: CPPFLAGS += -Ifetch
