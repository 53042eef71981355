#!/bin/sh
# lm-serve's chat: sessions, the WebSocket, the database (tests/serve/chat.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python websocket
exec "$PY" "$top/tests/serve/chat.py"
