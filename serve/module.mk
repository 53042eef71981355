# serve/module.mk - lm-serve: civetweb for HTTP and WebSocket, SQLite for
# the chat's sessions and the model registry, and the headers of the
# modules it builds on (fetch/ for SHA-256).
$(B)/obj/serve/%.o: CPPFLAGS += -Iforward -Isample -Itokenize -Ifetch
$(BINDIR)/lm-serve: LDLIBS += -lcivetweb -lsqlite3
# the chat page is built into the binary (page.c includes it with .incbin)
$(B)/obj/serve/page.o: serve/page.html
