"""validate.py SCHEMA [FILE] - check each line of FILE (or stdin) against
the JSON Schema in SCHEMA with Python's jsonschema, the reference for
lm-sample --schema (tests/schema-validate.t).

A line is either a JSON string holding the output (what test-schema -w and
test-constrain -w write) or a tok-decode sequence line {"seq": N, "text":
"..."}.  Prints "N valid of M" and, for each failure, the output and why;
exits 1 if any fails, 2 if jsonschema is missing (the test skips then)."""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("jsonschema is not installed (make deps)", file=sys.stderr)
    sys.exit(2)

with open(sys.argv[1]) as f:
    schema = json.load(f)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema)
src = open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin
good = total = 0
for line in src:
    item = json.loads(line)
    text = item["text"] if isinstance(item, dict) else item
    total += 1
    try:
        validator.validate(json.loads(text))
        good += 1
    except (ValueError, jsonschema.ValidationError) as e:
        print(f"invalid: {text!r}: {str(e).splitlines()[0]}")
print(f"{good} valid of {total}")
sys.exit(0 if good == total and total > 0 else 1)
