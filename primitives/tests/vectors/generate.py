#!/usr/bin/env python3
"""Independent reference implementation of the Atoma protocol-primitive layouts.

This script deliberately shares no code with the Rust crate: it re-implements
every byte layout from the written specification using only the Python
standard library (hashlib.blake2b with digest_size=32 is exactly blake2-256),
and writes the results to vectors.json next to this file. The Rust
integration test `tests/vectors.rs` loads that JSON and asserts that the crate
produces identical bytes and hashes. If the two disagree, one of them diverged
from the spec; a verifier written in another language can use the same
vectors.

Regenerate with:

    python3 tests/vectors/generate.py

Only re-run it when a layout is *intentionally* changed (which also means
bumping the corresponding domain tag, e.g. "/v1" -> "/v2").
"""

import hashlib
import json
import math
import os
import struct

# --- Domain-separation tags (must match src/hash.rs) -------------------------
TAG_OUTPUT = b"atoma/output/v1"
TAG_LEAF = b"atoma/leaf/v1"
TAG_ROOT = b"atoma/root/v1"
TAG_WEIGHTS_CHUNK = b"atoma/weights-chunk/v1"
TAG_WEIGHTS_NODE = b"atoma/weights-node/v1"
TAG_WEIGHTS_ROOT = b"atoma/weights-root/v1"
TAG_TRACE_STEP = b"atoma/trace-step/v1"
TAG_TRACE_NODE = b"atoma/trace-node/v1"

WEIGHTS_CHUNK_SIZE = 1 << 20
LOGIT_SCALE = 1024
I32_MIN = -(2**31)
I32_MAX = 2**31 - 1


def H(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def u32(x: int) -> bytes:
    return struct.pack("<I", x)


def i32(x: int) -> bytes:
    return struct.pack("<i", x)


def u64(x: int) -> bytes:
    return struct.pack("<Q", x)


# --- output -----------------------------------------------------------------
def canonical_output(token_ids, finish_reason: int) -> bytes:
    out = TAG_OUTPUT + bytes([finish_reason]) + u32(len(token_ids))
    for t in token_ids:
        out += u32(t)
    return out


# --- commitment ---------------------------------------------------------------
def output_leaf(output: bytes, index: int) -> bytes:
    return H(TAG_LEAF + output + u32(index))


def commitment_root(leaves) -> bytes:
    return H(TAG_ROOT + u32(len(leaves)) + b"".join(leaves))


# --- merkle -----------------------------------------------------------------
def merkle_root(node_tag: bytes, leaves) -> bytes:
    if not leaves:
        return H(node_tag)
    level = list(leaves)
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            if i + 1 < len(level):
                nxt.append(H(node_tag + level[i] + level[i + 1]))
            else:
                nxt.append(level[i])  # odd node promoted unchanged
        level = nxt
    return level[0]


# --- weights ----------------------------------------------------------------
def weights_pattern(length: int) -> bytes:
    return bytes((k * 31 + 7) % 251 for k in range(length))


def weights(data: bytes):
    leaves = []
    for idx, start in enumerate(range(0, len(data), WEIGHTS_CHUNK_SIZE)):
        chunk = data[start : start + WEIGHTS_CHUNK_SIZE]
        leaves.append(H(TAG_WEIGHTS_CHUNK + u64(idx) + chunk))
    mroot = merkle_root(TAG_WEIGHTS_NODE, leaves)
    root = H(TAG_WEIGHTS_ROOT + u64(len(data)) + mroot)
    return root, mroot, leaves


# --- trace ------------------------------------------------------------------
def f32(x: float) -> float:
    """Round a Python float to the nearest f32 value."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def quantize_logit(logit_f32: float) -> int:
    """round(logit * 1024), ties away from zero, saturating to i32, NaN -> 0.

    logit_f32 is an exact f32 value; multiplying it by 1024 in f64 is exact
    and, if the f32 product overflows, the f64 product is still beyond the
    i32 range, so saturation gives the same result as the f32 computation.
    """
    if math.isnan(logit_f32):
        return 0
    x = logit_f32 * LOGIT_SCALE
    if math.isinf(x):
        return I32_MAX if x > 0 else I32_MIN
    r = math.floor(abs(x) + 0.5)  # exact: |x| carries at most 24 significant bits
    r = r if x >= 0 else -r
    return max(I32_MIN, min(I32_MAX, r))


def step_digest(step: int, token_id: int, top_logits) -> bytes:
    data = TAG_TRACE_STEP + u32(step) + u32(token_id) + u32(len(top_logits))
    for tok, q in top_logits:
        data += u32(tok) + i32(q)
    return H(data)


TAG_TOKENIZER = b"atoma/tokenizer/v1"
TAG_SEALED = b"atoma/sealed/v1"
TAG_VERDICT = b"atoma/verdict/v1"


def lp(b: bytes) -> bytes:
    return u32(len(b)) + b


def tokenizer_hash(model: bytes, pre: bytes, tokens, merges, token_types, eos, bos) -> bytes:
    pre_img = TAG_TOKENIZER + lp(model) + lp(pre)
    pre_img += u32(len(tokens)) + b"".join(lp(t) for t in tokens)
    pre_img += u32(len(merges)) + b"".join(lp(m) for m in merges)
    pre_img += u32(len(token_types)) + b"".join(i32(t) for t in token_types)
    for opt in (eos, bos):
        pre_img += (b"\x01" + u32(opt)) if opt is not None else b"\x00"
    return H(pre_img)


def main():
    hx = lambda b: b.hex()
    vectors = {
        "_comment": "Generated by tests/vectors/generate.py (Python stdlib only). Do not edit by hand.",
        "tags": {
            "output": TAG_OUTPUT.decode(),
            "leaf": TAG_LEAF.decode(),
            "root": TAG_ROOT.decode(),
            "weights_chunk": TAG_WEIGHTS_CHUNK.decode(),
            "weights_node": TAG_WEIGHTS_NODE.decode(),
            "weights_root": TAG_WEIGHTS_ROOT.decode(),
            "trace_step": TAG_TRACE_STEP.decode(),
            "trace_node": TAG_TRACE_NODE.decode(),
            "tokenizer": TAG_TOKENIZER.decode(),
            "sealed": TAG_SEALED.decode(),
            "verdict": TAG_VERDICT.decode(),
        },
        "weights_chunk_size": WEIGHTS_CHUNK_SIZE,
    }

    # Outputs and their quorum commitments for n = 1, 2, 3.
    outputs = [
        ("empty-stop", [], 0),
        ("short-length", [1, 2, 3], 1),
        ("mixed-stop", [0, 50256, 4294967295, 128000, 7, 7, 7], 0),
    ]
    out_vecs = []
    for name, toks, fr in outputs:
        o = canonical_output(toks, fr)
        commits = []
        for n in (1, 2, 3):
            leaves = [output_leaf(o, i) for i in range(n)]
            commits.append(
                {"n": n, "leaves": [hx(l) for l in leaves], "root": hx(commitment_root(leaves))}
            )
        out_vecs.append(
            {
                "name": name,
                "token_ids": toks,
                "finish_reason": fr,
                "canonical_hex": hx(o),
                "commitments": commits,
            }
        )
    vectors["outputs"] = out_vecs

    # Generic Merkle trees over synthetic leaves.
    test_leaves = [H(b"atoma-test-leaf" + u32(k)) for k in range(5)]
    merkle_vecs = []
    for tag in (TAG_WEIGHTS_NODE, TAG_TRACE_NODE):
        for count in (0, 1, 2, 3, 5):
            leaves = test_leaves[:count]
            merkle_vecs.append(
                {
                    "node_tag": tag.decode(),
                    "leaves": [hx(l) for l in leaves],
                    "root": hx(merkle_root(tag, leaves)),
                }
            )
    vectors["merkle"] = merkle_vecs

    # Weights roots over the deterministic pattern byte k = (k * 31 + 7) % 251.
    weight_vecs = []
    for length in (0, 1, WEIGHTS_CHUNK_SIZE, WEIGHTS_CHUNK_SIZE + 1, WEIGHTS_CHUNK_SIZE * 5 // 2):
        root, mroot, leaves = weights(weights_pattern(length))
        weight_vecs.append(
            {
                "len": length,
                "chunk_count": len(leaves),
                "chunk_leaves": [hx(l) for l in leaves],
                "merkle_root": hx(mroot),
                "root": hx(root),
            }
        )
    vectors["weights"] = {"pattern": "byte k = (k * 31 + 7) % 251", "cases": weight_vecs}

    # Logit quantization (inputs given as f32 bit patterns so no decimal
    # parsing ambiguity can creep in).
    quant_inputs = [
        0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.0 / 2048, -1.0 / 2048, 3.0 / 2048, -3.0 / 2048,
        5.0 / 2048, -5.0 / 2048,
        0.49999997 / 1024, 12.345678, -7.25, 1e-9, 2097151.9, 2097152.0, -2097152.0,
        -2097153.0, 1e30, -1e30, float("inf"), float("-inf"), float("nan"),
    ]
    quant_vecs = []
    for x in quant_inputs:
        bits = struct.unpack("<I", struct.pack("<f", x))[0]
        quant_vecs.append({"f32_bits": bits, "quantized": quantize_logit(f32(x))})
    vectors["quantize"] = quant_vecs

    # A short trace: each step has the chosen token and its top-3 logits.
    steps = []
    raw_steps = [
        (0, 42, [(42, 9.5), (7, 8.25), (1000, -1.0)]),
        (1, 7, [(7, 11.0), (42, 10.999), (3, 0.0)]),
        (2, 2, [(2, 5.0), (1, -0.0004), (0, -30.5)]),
        (3, 50256, []),
        (4, 1, [(1, 100.0)]),
    ]
    digests = []
    for step, tok, logits in raw_steps:
        q = [(t, quantize_logit(f32(l))) for t, l in logits]
        d = step_digest(step, tok, q)
        digests.append(d)
        steps.append({"step": step, "token_id": tok, "top_logits": [[t, v] for t, v in q], "digest": hx(d)})
    vectors["trace"] = {
        "steps": steps,
        "root": hx(merkle_root(TAG_TRACE_NODE, digests)),
        "empty_root": hx(merkle_root(TAG_TRACE_NODE, [])),
    }

    # Tokenizer hashes: a tiny byte-level BPE vocabulary, with and without special ids.
    tok_cases = [
        {"model": "gpt2", "pre": "smollm", "tokens": ["<|endoftext|>", "a", "b", "ab", "\u0120the"],
         "merges": ["a b", "\u0120 t"], "token_types": [3, 1, 1, 1, 1], "eos": 0, "bos": 0},
        {"model": "gpt2", "pre": "", "tokens": [], "merges": [], "token_types": [], "eos": None, "bos": None},
    ]
    for case in tok_cases:
        case["hash"] = hx(tokenizer_hash(
            case["model"].encode(), case["pre"].encode(),
            [t.encode() for t in case["tokens"]], [m.encode() for m in case["merges"]],
            case["token_types"], case["eos"], case["bos"]))
    vectors["tokenizer"] = tok_cases

    # Sealed Cross-Validation commitments of the first output for two worker keys.
    o = canonical_output(outputs[1][1], outputs[1][2])
    digest = H(o)
    vectors["sealed"] = [
        {"canonical_hex": hx(o), "digest": hx(digest), "worker_key": hx(bytes([k]) * 32),
         "sealed": hx(H(TAG_SEALED + digest + bytes([k]) * 32))}
        for k in (1, 2)
    ]

    # Arbiter verdicts over the first output: Cross-Validation (no leaves) and a quorum of 3.
    verdicts = []
    for n in (0, 3):
        leaves = [output_leaf(o, i) for i in range(n)]
        tokens = len(outputs[1][1])
        verdicts.append({
            "canonical_hex": hx(o), "output_tokens": tokens, "leaves": [hx(l) for l in leaves],
            "verdict": hx(H(TAG_VERDICT + digest + u32(tokens) + u32(n) + b"".join(leaves)))})
    vectors["verdicts"] = verdicts

    # "Unservable, because ...": one digest per reason code (InputUnavailable = 0, ExceedsContext = 1,
    # InvalidPrompt = 2, InputTokensAboveDeclared = 3).
    vectors["unservable"] = [
        {"code": code, "digest": hx(H(b"atoma/unservable/v1" + bytes([code])))} for code in range(4)
    ]

    # Execution profiles: each part length-prefixed (u32 LE), in field order.
    def profile_hash(parts):
        return H(b"atoma/execution-profile/v1" + b"".join(u32(len(p)) + p for p in parts))
    profiles = [
        [b"f32", b"cpu", b"x86_64-avx2-fma", b"serial", b"atoma-worker 0.1.0 candle 0.11.1"],
        [b"quantized", b"cuda", b"cuda", b"serial", b"atoma-worker 0.1.0 candle 0.11.1"],
    ]
    vectors["execution_profiles"] = [
        {"parts": [p.decode() for p in parts], "hash": hx(profile_hash(parts))} for parts in profiles
    ]

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(vectors, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
