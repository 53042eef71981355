#!/bin/sh
# lm-serve under faults (tests/serve/faults.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python json
exec "$PY" "$top/tests/serve/faults.py"
