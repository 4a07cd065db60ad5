#!/usr/bin/python3
"""Generate a deterministic demo Hugging Face model directory for aimfs tests.

Usage:
    /usr/bin/python3 tests/server/genmodel.py OUTDIR [--size SIZE] [--seed N] [--nested]
        [--vocab N] [--padded SIZE]

Writes into OUTDIR:
  config.json        a small, plausible transformers (llama-style) config
  tokenizer.json     a plausible byte-level BPE tokenizer (a few hundred KiB)
  model.safetensors  a VALID safetensors file of at least SIZE bytes:
                       u64 little-endian header length N,
                       N bytes of JSON header (space-padded to a multiple of 8),
                       tensor data (contiguous, exactly covered by data_offsets)
With --nested it also writes onnx/model.onnx (1 MiB) and onnx/sub/extra.txt,
so that subdirectories get exercised. --vocab N grows tokenizer.json (N
tokens; 150000 gives several MiB of JSON) and --padded SIZE adds
padded.safetensors, an F32 tensor of SIZE bytes whose rows hold 256 values
and are zero-padded to 1024 (what lz4 compresses, unlike bf16 weights).

Everything is a pure function of (--size, --seed): running twice gives
byte-identical files.  Tensor bytes come from SHAKE-128 keyed by the seed and
a 1 MiB chunk index, streamed to disk chunk by chunk (never the whole file in
memory); 256 MiB takes well under two seconds.

On stdout it prints one line:  model.safetensors <sha256 hex>

Standard library only; meant to be run with Debian's /usr/bin/python3.
"""

import argparse
import hashlib
import json
import os
import random
import re
import sys

CHUNK = 1 << 20  # generator / write granularity (1 MiB)


def parse_size(text):
    """Parse '256M', '8M', '1G', '512K', '1000' (powers of 1024) into bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError("bad size: %r (use e.g. 8M, 256M, 1G)" % text)
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def det_bytes(seed, label, index, length):
    """Deterministic pseudo-random bytes for (seed, label, chunk index)."""
    key = ("aimfs-demo:%d:%s:%d" % (seed, label, index)).encode()
    return hashlib.shake_128(key).digest(length)


# ---------------------------------------------------------------------------
# Model layout: a tiny llama-like network whose embedding table is stretched
# so that the total tensor data reaches the requested size.
# ---------------------------------------------------------------------------

DTYPE_SIZE = {"BF16": 2, "F32": 4}


def layer_tensors(i, h, inter):
    """(name, dtype, shape) of one decoder layer."""
    p = "model.layers.%d." % i
    return [
        (p + "input_layernorm.weight", "F32", [h]),
        (p + "self_attn.q_proj.weight", "BF16", [h, h]),
        (p + "self_attn.k_proj.weight", "BF16", [h, h]),
        (p + "self_attn.v_proj.weight", "BF16", [h, h]),
        (p + "self_attn.o_proj.weight", "BF16", [h, h]),
        (p + "post_attention_layernorm.weight", "F32", [h]),
        (p + "mlp.gate_proj.weight", "BF16", [inter, h]),
        (p + "mlp.up_proj.weight", "BF16", [inter, h]),
        (p + "mlp.down_proj.weight", "BF16", [h, inter]),
    ]


def nbytes(dtype, shape):
    n = DTYPE_SIZE[dtype]
    for d in shape:
        n *= d
    return n


def plan_model(size):
    """Choose hidden size / layers / vocab so tensor data >= size bytes.

    Returns (params dict, list of (name, dtype, shape)).  The decoder layers
    take at most about half of the budget; the embedding table
    [vocab, hidden] (BF16) is sized to make up the rest.
    """
    n_layers = 2
    hidden = 8
    for h in (1024, 512, 256, 128, 64, 32, 16, 8):
        per_layer = sum(nbytes(d, s) for _, d, s in layer_tensors(0, h, 4 * h))
        if n_layers * per_layer + 4 * h <= size // 2:
            hidden = h
            break
    else:
        n_layers = 0  # tiny sizes: embeddings + final norm only
    inter = 4 * hidden
    tensors = []
    for i in range(n_layers):
        tensors += layer_tensors(i, hidden, inter)
    tensors.append(("model.norm.weight", "F32", [hidden]))
    used = sum(nbytes(d, s) for _, d, s in tensors)
    vocab = max(1, -(-(size - used) // (2 * hidden)))  # ceil division
    tensors.insert(0, ("model.embed_tokens.weight", "BF16", [vocab, hidden]))
    params = {"hidden": hidden, "inter": inter, "layers": n_layers, "vocab": vocab}
    return params, tensors


def write_safetensors(path, size, seed):
    """Stream a valid safetensors file to path; return its sha256 hex."""
    _params, tensors = plan_model(size)
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, dtype, shape in tensors:
        n = nbytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    data_len = off
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)  # pad with spaces to a multiple of 8

    digest = hashlib.sha256()
    with open(path, "wb") as f:
        prefix = len(hjson).to_bytes(8, "little") + hjson
        f.write(prefix)
        digest.update(prefix)
        index = 0
        remaining = data_len
        while remaining > 0:
            chunk = det_bytes(seed, "safetensors", index, min(CHUNK, remaining))
            f.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
            index += 1
    return digest.hexdigest()


def write_config(path, size):
    params, _ = plan_model(size)
    h = params["hidden"]
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": h,
        "intermediate_size": params["inter"],
        "num_hidden_layers": params["layers"],
        "num_attention_heads": max(1, h // 64),
        "num_key_value_heads": max(1, h // 64),
        "vocab_size": params["vocab"],
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.40.0",
    }
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def write_tokenizer(path, seed, size=12000):
    """A plausible byte-level BPE tokenizer.json (~400 KiB for 12000 tokens),
    deterministic."""
    rng = random.Random("tokenizer:%d" % seed)
    specials = ["<unk>", "<s>", "</s>"]
    vocab = {}
    for tok in specials:
        vocab[tok] = len(vocab)
    # GPT-2 style byte-level alphabet.
    for b in range(256):
        ch = chr(b) if 33 <= b <= 126 or 161 <= b <= 255 and b != 173 else chr(256 + b)
        vocab.setdefault(ch, len(vocab))
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    merges = []
    pieces = list(letters)
    while len(vocab) < size:
        a = rng.choice(pieces)
        b = rng.choice(pieces[:64] if len(pieces) > 64 else pieces)
        if rng.random() < 0.3:
            a = "\u0120" + a.lstrip("\u0120")  # 'Ġ' = leading space marker
        tok = a + b
        if tok in vocab or len(tok) > (12 if size <= 12000 else 16):
            continue
        vocab[tok] = len(vocab)
        merges.append("%s %s" % (a, b))
        pieces.append(tok)
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": True}
            for i, t in enumerate(specials)
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                          "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                           "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                    "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": merges},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_padded(path, size, seed):
    """padded.safetensors: F32 [rows, 1024], each row 256 values then zeros."""
    cols, used = 1024, 256
    rows = max(1, size // (4 * cols))
    n = rows * cols * 4
    header = {"__metadata__": {"format": "pt"},
              "padded.weight": {"dtype": "F32", "shape": [rows, cols],
                                "data_offsets": [0, n]}}
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)
    zeros = bytes(4 * (cols - used))
    with open(path, "wb") as f:
        f.write(len(hjson).to_bytes(8, "little") + hjson)
        per = CHUNK // (4 * cols)
        for first in range(0, rows, per):
            count = min(per, rows - first)
            vals = det_bytes(seed, "padded", first, 4 * used * count)
            out = bytearray()
            for r in range(count):
                out += vals[4 * used * r:4 * used * (r + 1)] + zeros
            f.write(out)


def write_nested(outdir, seed):
    """onnx/model.onnx (1 MiB binary) and onnx/sub/extra.txt (small text)."""
    sub = os.path.join(outdir, "onnx", "sub")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(outdir, "onnx", "model.onnx"), "wb") as f:
        f.write(det_bytes(seed, "onnx", 0, 1 << 20))
    with open(os.path.join(sub, "extra.txt"), "w") as f:
        for i in range(20):
            f.write("extra line %d for seed %d\n" % (i, seed))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate a deterministic demo HF model.")
    ap.add_argument("outdir")
    ap.add_argument("--size", type=parse_size, default=parse_size("256M"),
                    help="approximate model.safetensors size (K/M/G = powers of 1024)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nested", action="store_true",
                    help="also write onnx/model.onnx and onnx/sub/extra.txt")
    ap.add_argument("--vocab", type=int, default=12000,
                    help="tokens in tokenizer.json (150000: several MiB)")
    ap.add_argument("--padded", type=parse_size, default=0,
                    help="also write padded.safetensors, a zero-padded F32 tensor")
    args = ap.parse_args(argv)

    os.makedirs(args.outdir, exist_ok=True)
    write_config(os.path.join(args.outdir, "config.json"), args.size)
    write_tokenizer(os.path.join(args.outdir, "tokenizer.json"), args.seed,
                    args.vocab)
    if args.padded:
        write_padded(os.path.join(args.outdir, "padded.safetensors"),
                     args.padded, args.seed)
    sha = write_safetensors(os.path.join(args.outdir, "model.safetensors"),
                            args.size, args.seed)
    if args.nested:
        write_nested(args.outdir, args.seed)
    print("model.safetensors %s" % sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
