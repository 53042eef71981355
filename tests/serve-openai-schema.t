#!/bin/sh
# lm-serve's response_format json_schema with the real openai Python client
# (tests/serve/openai-schema.py): answers validate against the schema.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servelib.sh"
need_model smollm2
serve_python openai jsonschema pydantic
exec "$PY" "$top/tests/serve/openai-schema.py"
