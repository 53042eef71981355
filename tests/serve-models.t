#!/bin/sh
# lm-serve's model registry and several models at once (tests/serve/models.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python json
exec "$PY" "$top/tests/serve/models.py"
