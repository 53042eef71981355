"""response_format json_schema through the real openai client: whatever
the seed, the answer parses and validates (jsonschema) against the schema,
streamed as whole, on both routes, with the client's own parse() helper
(a pydantic model's strict schema), cut short by max_tokens yet still
valid; a schema lm-serve cannot hold the output to is a 400 naming the
field."""
import json
from typing import List, Literal, Optional

from servetest import Tap, Server

t = Tap()
try:
    import jsonschema
    import openai
    import pydantic
except ImportError as e:
    t.skip_all("a Python package is missing (%s): make deps installs it" % e)

CAT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 30},
        "colour": {"enum": ["black", "white", "ginger", "grey", "tabby"]},
        "age": {"type": "integer"},
        "toys": {"type": "array", "items": {"$ref": "#/$defs/toy"}, "maxItems": 3},
        "owner": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["name", "colour", "age", "toys", "owner"],
    "additionalProperties": False,
    "$defs": {"toy": {"type": "object", "properties": {"kind": {"type": "string", "maxLength": 20},
                                                       "squeaks": {"type": "boolean"}},
                      "required": ["kind", "squeaks"], "additionalProperties": False}},
}
ASK = [{"role": "user", "content": "Describe a cat as JSON: its name, colour, age, toys and owner."}]


def fmt(schema, name="cat", **kw):
    return {"type": "json_schema", "json_schema": dict(name=name, schema=schema, **kw)}


def valid(text, schema):
    """None if text parses and validates, else why not."""
    try:
        jsonschema.validate(json.loads(text), schema)
        return None
    except (ValueError, jsonschema.ValidationError) as e:
        return "%s\n%r" % (str(e).splitlines()[0], text)


def refused(call, param, word, name):
    try:
        call()
        t.ok(False, name + ": 400")
    except openai.BadRequestError as e:
        body = e.body if isinstance(e.body, dict) else {}
        t.ok(body.get("param") == param and word in (body.get("message") or ""),
             "%s: 400 naming %s" % (name, param), repr(body))


with Server(["--parallel", "2"]) as s:
    c = openai.OpenAI(base_url=s.url + "/v1", api_key="none", max_retries=0, timeout=300)
    model = c.models.list().data[0].id

    # chat, whole: three seeds, each valid, each ended by the schema
    first = None
    for seed in (1, 2, 3):
        r = c.chat.completions.create(model=model, messages=ASK, max_tokens=300, temperature=0.8, seed=seed,
                                      response_format=fmt(CAT, strict=True))
        text = r.choices[0].message.content
        why = valid(text, CAT)
        t.ok(why is None and r.choices[0].finish_reason == "stop",
             "json_schema, seed %d: valid against the schema, finish_reason stop" % seed,
             why or r.choices[0].finish_reason)
        first = first or text
    plain = c.chat.completions.create(model=model, messages=ASK, max_tokens=80, temperature=0).choices[0].message.content
    t.ok(valid(plain, CAT) is not None, "without it, the greedy answer does not validate (so the schema did it)",
         plain)

    # streamed: the same text for the same seed
    chunks = list(c.chat.completions.create(model=model, messages=ASK, max_tokens=300, temperature=0.8, seed=1,
                                            stream=True, response_format=fmt(CAT)))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    t.is_(text, first, "json_schema streamed, seed 1: the same text as whole")
    t.is_([ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason], ["stop"],
          "json_schema streamed: finish_reason stop")

    # the client's parse(): a pydantic model's schema (strict: every field
    # required, additionalProperties false, enums as Literal), read back
    class Toy(pydantic.BaseModel):
        kind: str
        squeaks: bool

    class Cat(pydantic.BaseModel):
        name: str
        colour: Literal["black", "white", "ginger", "grey"]
        age: int
        toys: List[Toy]
        owner: Optional[str]

    r = c.chat.completions.parse(model=model, messages=ASK, max_tokens=300, temperature=0.7, seed=4,
                                 response_format=Cat)
    t.ok(isinstance(r.choices[0].message.parsed, Cat), "chat.completions.parse(response_format=Cat): a Cat",
         r.choices[0].message.content)

    # a value that is not an object, on /v1/completions
    nums = {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 5}
    r = c.completions.create(model=model, prompt="Three prime numbers:", max_tokens=60, temperature=0.5, seed=2,
                             extra_body={"response_format": fmt(nums, name="primes")})
    why = valid(r.choices[0].text, nums)
    t.ok(why is None, "completions, an array of 3 to 5 integers: valid", why)

    # max_tokens too few for what the model writes: closed early, still
    # valid, finish_reason length
    story = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    for stream in (False, True):
        kw = dict(model=model, max_tokens=16, temperature=0, response_format=fmt(story, name="story"),
                  messages=[{"role": "user", "content": "Tell a long story about a lighthouse keeper, as JSON."}])
        if stream:
            chunks = list(c.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
            text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
            fin = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason][-1]
            n = chunks[-1].usage.completion_tokens
        else:
            r = c.chat.completions.create(**kw)
            text, fin, n = r.choices[0].message.content, r.choices[0].finish_reason, r.usage.completion_tokens
        why = valid(text, story)
        t.ok(why is None and fin == "length" and n <= 16,
             "max_tokens 16%s: closed early, valid, finish_reason length" % (", streamed" if stream else ""),
             why or "%s, %d tokens: %r" % (fin, n, text))

    # schemas that cannot be held to, and malformed response_format
    bad = lambda rf: lambda: c.chat.completions.create(model=model, messages=ASK, max_tokens=5, response_format=rf)
    refused(bad(fmt({"type": "integer", "minimum": 3})), "response_format.json_schema.schema", "minimum",
            "a schema with minimum")
    refused(bad(fmt({"type": "object", "properties": {"a": {"$ref": "http://x/y"}}})),
            "response_format.json_schema.schema", "$ref", "a remote $ref")
    refused(bad(fmt(5)), "response_format.json_schema.schema", "schema", "a schema that is a number")
    refused(bad({"type": "json_schema", "json_schema": {"schema": CAT}}), "response_format.json_schema.name",
            "name", "no name")
    refused(bad(fmt(CAT, name="a cat")), "response_format.json_schema.name", "name", "a name with a space")
    refused(bad(fmt(CAT, strict="yes")), "response_format.json_schema.strict", "strict", "strict a string")
    refused(bad({"type": "json_schema"}), "response_format.json_schema", "json_schema", "no json_schema")
    refused(bad({"type": "yaml"}), "response_format.type", "yaml", "type yaml")
    t.is_(s.get("/health").status, 200, "the server is still well")

t.is_(s.status, 0, "SIGTERM: exit 0")
t.done()
