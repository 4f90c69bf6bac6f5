#!/usr/bin/env python3
"""Check the worker against the official OpenAI Python client (not part of `cargo test`).

Usage: pip install openai && python3 scripts/openai-client-check.py http://127.0.0.1:8080

Exercises /v1/models, /v1/completions and /v1/chat/completions, plain and streamed, and the
error mapping (the client raises typed exceptions from our JSON error bodies).
"""
import sys

import openai

base = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080").rstrip("/") + "/v1"
client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)

models = client.models.list()
model = models.data[0].id
print("models:", [m.id for m in models.data])

chat = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "What is the capital of France?"}],
    max_tokens=16,
)
print("chat:", repr(chat.choices[0].message.content), chat.choices[0].finish_reason, chat.usage)
assert "Paris" in chat.choices[0].message.content

parts = []
for chunk in client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "What is the capital of France?"}],
    max_tokens=16,
    stream=True,
    stream_options={"include_usage": True},
):
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
    if chunk.usage:
        print("stream usage:", chunk.usage)
print("chat stream:", repr("".join(parts)))
assert "".join(parts) == chat.choices[0].message.content

comp = client.completions.create(model=model, prompt="Once upon a time", max_tokens=12)
print("completion:", repr(comp.choices[0].text), comp.usage)
streamed = "".join(
    c.choices[0].text
    for c in client.completions.create(model=model, prompt="Once upon a time", max_tokens=12, stream=True)
    if c.choices
)
assert streamed == comp.choices[0].text, (streamed, comp.choices[0].text)

sampled = [
    client.completions.create(
        model=model, prompt="My favourite food is", max_tokens=12, temperature=0.9, top_p=0.95, seed=7
    ).choices[0].text
    for _ in range(2)
]
print("sampled (seed 7, twice):", sampled)
assert sampled[0] == sampled[1]

for kwargs, exc in [
    (dict(model="nope", prompt="x"), openai.NotFoundError),
    (dict(model=model, prompt="x", temperature=0.7), openai.UnprocessableEntityError),
    (dict(model=model, prompt="x", n=2), openai.UnprocessableEntityError),
]:
    try:
        client.completions.create(**kwargs)
        raise SystemExit(f"expected {exc.__name__} for {kwargs}")
    except exc as e:
        print(f"{exc.__name__}: {e.body}")
print("openai client check passed")
