# serve/module.mk - lm-serve: civetweb for HTTP, and the headers of the
# modules it builds on.
$(B)/obj/serve/%.o: CPPFLAGS += -Iforward -Isample -Itokenize
$(BINDIR)/lm-serve: LDLIBS += -lcivetweb
