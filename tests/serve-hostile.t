#!/bin/sh
# lm-serve's chat given broken and hostile documents (tests/serve/hostile.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python websocket
exec "$PY" "$top/tests/serve/hostile.py"
