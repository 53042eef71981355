"""The real openai client against lm-serve: chat and completions, whole
and streamed, include_usage, stop strings, seeds, logprobs, errors."""
import sys

from servetest import Tap, Server

t = Tap()
try:
    import openai
except ImportError as e:
    t.skip_all("the openai package is missing (%s): make deps installs it" % e)

MSG = [{"role": "user", "content": "Write a haiku about pipes."}]

with Server(["--parallel", "2"]) as s:
    c = openai.OpenAI(base_url=s.url + "/v1", api_key="none", max_retries=0, timeout=120)
    models = c.models.list().data
    t.is_([m.id for m in models], ["smollm2-135m-instruct-q4_1"], "models.list()")
    model = models[0].id

    # chat, whole
    r = c.chat.completions.create(model=model, messages=MSG, max_tokens=40, temperature=0)
    whole = r.choices[0].message.content
    t.is_(r.object, "chat.completion", "chat: object")
    t.is_(r.choices[0].message.role, "assistant", "chat: role")
    t.ok(len(whole) > 10, "chat: text", whole)
    t.ok(r.choices[0].finish_reason in ("stop", "length"), "chat: finish_reason " + str(r.choices[0].finish_reason))
    t.ok(r.usage.prompt_tokens > 5 and r.usage.completion_tokens > 0 and
         r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens, "chat: usage adds up")

    # chat, streamed with include_usage: the same greedy text
    chunks = list(c.chat.completions.create(model=model, messages=MSG, max_tokens=40, temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    t.is_(chunks[0].choices[0].delta.role, "assistant", "stream: the first chunk has the role")
    t.is_(len({ch.id for ch in chunks}), 1, "stream: one id")
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    t.is_(text, whole, "stream: the text equals the whole answer")
    fin = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    t.is_(fin, [r.choices[0].finish_reason], "stream: one finish_reason, the same")
    t.ok(chunks[-1].choices == [] and chunks[-1].usage is not None, "stream: the last chunk has the usage")
    t.is_(chunks[-1].usage.completion_tokens, r.usage.completion_tokens, "stream: usage counts the same tokens")
    plain = list(c.chat.completions.create(model=model, messages=MSG, max_tokens=5, stream=True))
    t.ok(all(ch.usage is None for ch in plain), "stream without include_usage: no usage")

    # max_tokens
    r = c.chat.completions.create(model=model, messages=MSG, max_tokens=3, temperature=0)
    t.is_((r.usage.completion_tokens, r.choices[0].finish_reason), (3, "length"), "max_tokens 3: 3 tokens, length")
    r = c.chat.completions.create(model=model, messages=MSG, max_completion_tokens=2, temperature=0)
    t.is_(r.usage.completion_tokens, 2, "max_completion_tokens 2")

    # stop strings: cut where the greedy text has one, the stop not included
    words = whole.split()
    stop = words[len(words) // 2]
    cut = whole[:whole.find(stop)]
    r = c.chat.completions.create(model=model, messages=MSG, max_tokens=40, temperature=0, stop=[stop, "zzzz"])
    t.is_(r.choices[0].message.content, cut, "stop %r: the text ends before it" % stop)
    t.is_(r.choices[0].finish_reason, "stop", "stop: finish_reason stop")
    text = "".join(ch.choices[0].delta.content or "" for ch in
                   c.chat.completions.create(model=model, messages=MSG, max_tokens=40, temperature=0,
                                             stop=stop, stream=True) if ch.choices)
    t.is_(text, cut, "stop, streamed: the same cut")
    two = whole[whole.find(stop) - 2:whole.find(stop) + 2] if whole.find(stop) >= 2 else stop
    r = c.chat.completions.create(model=model, messages=MSG, max_tokens=40, temperature=0, stop=two)
    t.is_(r.choices[0].message.content, whole[:whole.find(two)], "a stop string across tokens %r" % two)

    # seeds
    def sample(seed, msgs=MSG):
        return c.chat.completions.create(model=model, messages=msgs, max_tokens=30, temperature=1.0,
                                         seed=seed).choices[0].message.content
    a = sample(42)
    t.is_(sample(42), a, "seed 42 twice: the same text")
    others = {sample(s) for s in (1, 2, 3)}
    t.ok(len(others | {a}) > 1, "other seeds: other texts", others)
    t.is_(sample(42), a, "seed 42 after others: the same text again")

    # logprobs
    r = c.chat.completions.create(model=model, messages=MSG, max_tokens=8, temperature=0, logprobs=True,
                                  top_logprobs=3)
    lp = r.choices[0].logprobs.content
    t.is_(len(lp), r.usage.completion_tokens, "logprobs: one entry per token")
    t.ok(all(len(e.top_logprobs) == 3 for e in lp), "top_logprobs 3: three alternatives each")
    t.ok(all(e.logprob <= 0 and e.top_logprobs[0].logprob >= e.logprob for e in lp), "logprobs are <= 0, best first")
    t.ok(all(e.token == e.top_logprobs[0].token for e in lp), "greedy: each token is the best alternative")
    t.is_("".join(bytes(e.bytes).decode("utf-8", "replace") for e in lp), r.choices[0].message.content,
          "the tokens' bytes spell the text")

    # presence and frequency penalties: over the tokens generated so far,
    # each greedy token is the best of the 20 alternatives once their
    # log-probabilities are penalized (the penalties only lower scores)
    rep = [{"role": "user", "content": "Repeat the word 'pipe' twenty times."}]
    base = c.chat.completions.create(model=model, messages=rep, max_tokens=30, temperature=0).choices[0].message.content
    for pres, freq in ((1.5, 0), (0, 0.7), (0.5, 0.5)):
        r = c.chat.completions.create(model=model, messages=rep, max_tokens=30, temperature=0, presence_penalty=pres,
                                      frequency_penalty=freq, logprobs=True, top_logprobs=20)
        seen, wrong = {}, 0
        for e in r.choices[0].logprobs.content:
            def score(a):
                n = seen.get(bytes(a.bytes), 0)
                return a.logprob - (pres if n else 0) - freq * n
            if bytes(max(e.top_logprobs, key=score).bytes) != bytes(e.bytes):
                wrong += 1
            seen[bytes(e.bytes)] = seen.get(bytes(e.bytes), 0) + 1
        t.ok(wrong == 0 and r.choices[0].message.content != base,
             "presence_penalty %g, frequency_penalty %g: every token the best penalized one, the text changed"
             % (pres, freq), "%d wrong; %r" % (wrong, r.choices[0].message.content))

    # response_format json_object: one JSON object, whole and streamed
    import json as _json
    ask = [{"role": "user", "content": "Describe a cat as JSON with the keys name, colour and age."}]
    first = None
    for seed in (1, 2, 3):
        r = c.chat.completions.create(model=model, messages=ask, max_tokens=200, temperature=0.8, seed=seed,
                                      response_format={"type": "json_object"})
        try:
            obj = _json.loads(r.choices[0].message.content)
        except ValueError:
            obj = None
        t.ok(isinstance(obj, dict) and r.choices[0].finish_reason == "stop",
             "json_object, seed %d: a JSON object, finish_reason stop" % seed, r.choices[0].message.content)
        first = first or r.choices[0].message.content
    text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model=model, messages=ask, max_tokens=200, temperature=0.8, seed=1, stream=True,
        response_format={"type": "json_object"}) if ch.choices)
    t.is_(text, first, "json_object streamed, seed 1: the same object")
    plain = c.chat.completions.create(model=model, messages=ask, max_tokens=60, temperature=0).choices[0].message.content
    t.ok(not plain.lstrip().startswith("{"), "without it, this model answers otherwise (so the grammar did it)",
         plain)
    r = c.completions.create(model=model, prompt="A point as JSON, with x and y:", max_tokens=80, temperature=0,
                             extra_body={"response_format": {"type": "json_object"}})
    try:
        t.ok(isinstance(_json.loads(r.choices[0].text), dict), "completions with json_object too", r.choices[0].text)
    except ValueError:
        t.ok(False, "completions with json_object too", r.choices[0].text)

    # completions
    r = c.completions.create(model=model, prompt="The capital of France is", max_tokens=12, temperature=0)
    t.is_(r.object, "text_completion", "completions: object")
    ctext = r.choices[0].text
    t.ok(len(ctext) > 0, "completions: text", ctext)
    s_text = "".join(ch.choices[0].text for ch in c.completions.create(
        model=model, prompt="The capital of France is", max_tokens=12, temperature=0, stream=True) if ch.choices)
    t.is_(s_text, ctext, "completions streamed: the same text")
    r = c.completions.create(model=model, prompt="The capital of France is", max_tokens=4, temperature=0,
                             echo=True, logprobs=2)
    t.ok(r.choices[0].text.startswith("The capital of France is"), "completions echo: the prompt first")
    t.is_(len(r.choices[0].logprobs.tokens), 4, "completions logprobs: a token each")
    t.ok(all(len(d) == 2 for d in r.choices[0].logprobs.top_logprobs), "completions logprobs 2: two alternatives")
    chunks = list(c.completions.create(model=model, prompt="Once upon a time", max_tokens=6, stream=True,
                                       stream_options={"include_usage": True}))
    t.is_(chunks[-1].usage.completion_tokens, 6, "completions stream include_usage")

    # errors
    try:
        c.chat.completions.create(model=model, messages=MSG, temperature="hot")
        t.ok(False, "temperature 'hot': 400")
    except openai.BadRequestError as e:
        t.is_(e.body.get("param") if isinstance(e.body, dict) else None, "temperature", "temperature 'hot': 400 naming it")
    try:
        c.chat.completions.create(model="no-such-model", messages=MSG)
        t.ok(False, "an unknown model: 404")
    except openai.NotFoundError as e:
        t.is_(e.code, "model_not_found", "an unknown model: 404 model_not_found")
    try:
        c.chat.completions.create(model=model, messages=[{"role": "user", "content": 5}])
        t.ok(False, "content 5: 400")
    except openai.BadRequestError as e:
        t.ok("messages" in str(e), "content 5: 400 about messages", str(e))
    try:
        c.chat.completions.create(model=model, messages=MSG, n=2)
        t.ok(False, "n 2: 400")
    except openai.BadRequestError as e:
        t.ok("n" == (e.body or {}).get("param"), "n 2: 400 naming n", str(e))

t.is_(s.status, 0, "SIGTERM: exit 0")
t.done()
