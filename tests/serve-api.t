#!/bin/sh
# lm-serve's TGI, token and metrics routes, prefix reuse, key, CORS, log
# (tests/serve/api.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python prometheus_client
exec "$PY" "$top/tests/serve/api.py"
