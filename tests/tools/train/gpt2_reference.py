#!/usr/bin/env python3
"""Greedy GPT-2 decoding in NumPy from a Hugging Face layout checkpoint folder.

Reads config.json, model.safetensors (through the safetensors package) and
tokenizer.json (through the tokenizers package) the way transformers'
GPT2LMHeadModel does: Conv1D weights stored [in, out] (y = x @ W + b), GELU
with the tanh approximation, pre-LayerNorm blocks, lm_head tied to wte. It
prints the raw bytes of the greedy continuation of PROMPT, so a test can
compare them with `generate --temperature 0`.

Usage: gpt2_reference.py CHECKPOINT PROMPT MAX_TOKENS
Exit status 77 when numpy, safetensors or tokenizers is not installed.
"""
import json
import sys

try:
    import numpy as np
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer
except ImportError as error:
    print(f"SKIP: {error}", file=sys.stderr)
    sys.exit(77)


def byte_decoder():
    """Returns the map from GPT-2 byte-level characters back to byte values."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes)}


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(w, cfg, ids):
    """Returns the logits (T, vocab) of the token ids."""
    n_head, eps = cfg["n_head"], cfg.get("layer_norm_epsilon", 1e-5)
    t = len(ids)
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:t]
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = np.split(qkv, 3, axis=-1)
        hs = q.shape[-1] // n_head
        heads = []
        for j in range(n_head):
            s = slice(j * hs, (j + 1) * hs)
            scores = q[:, s] @ k[:, s].T / np.sqrt(hs) + mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            heads.append(scores / scores.sum(-1, keepdims=True) @ v[:, s])
        att = np.concatenate(heads, axis=-1)
        x = x + att @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    return x @ w["transformer.wte.weight"].T


def main():
    folder, prompt, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(f"{folder}/config.json") as f:
        cfg = json.load(f)
    weights = {k: v.astype(np.float64) for k, v in load_file(f"{folder}/model.safetensors").items()}
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    ids = tokenizer.encode(prompt).ids
    eos = cfg.get("eos_token_id")
    out = []
    for _ in range(max_tokens):
        if len(ids) >= cfg["n_positions"]:
            break
        token = int(np.argmax(forward(weights, cfg, ids)[-1]))
        if token == eos:
            break
        ids.append(token)
        out.append(token)
    decoder = byte_decoder()
    text = "".join(tokenizer.id_to_token(i) for i in out)
    # generate prints valid UTF-8, each invalid byte sequence as U+FFFD, as
    # Python's "replace" error handler does.
    raw = bytes(decoder[c] for c in text)
    sys.stdout.buffer.write(raw.decode("utf-8", errors="replace").encode("utf-8") + b"\n")


if __name__ == "__main__":
    main()
