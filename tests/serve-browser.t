#!/bin/sh
# lm-serve's chat page in headless Chromium (tests/serve/browser.py).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python selenium
exec "$PY" "$top/tests/serve/browser.py"
