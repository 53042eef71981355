#!/bin/sh
# lm-serve with the real openai Python client (tests/serve/openai-client.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python openai
exec "$PY" "$top/tests/serve/openai-client.py"
