#!/usr/bin/env python3
"""Parameter counts for shardplan transformer specs (models/*.json) and Hugging Face configs.

Why this exists
    The C++ graph builder counts parameters with one fixed convention. This script is an
    independent, dependency-free reimplementation of that convention, used to check the
    model zoo against published totals and to produce the expected counts that the C++
    Hugging Face importer is tested against (tests/data/hf/EXPECTED.md).

Usage (python3, standard library only)
    python3 scripts/param_count.py
        Loads every models/*.json (with the same validation as core/model_spec.cpp),
        prints computed vs published parameter totals, and exits 1 if a row is outside
        its tolerance (1%, or the rounding of the published figure when that is coarser,
        e.g. "1.7B" means 1.65B..1.75B).
    python3 scripts/param_count.py --hf
        Maps every tests/data/hf/*.json to a spec (the mapping of docs/model-spec.md),
        prints its counts and checks them against tests/data/hf/EXPECTED.md.
    python3 scripts/param_count.py FILE...
        Prints the breakdown for each spec file or HF config.json (told apart by the
        presence of "model_type").

The counting convention (docs/model-spec.md, "Parameter count")
    gpt-style model  = norm "layernorm" and ffn_act "gelu" (biases, learned positions)
    embedding        vocab*hidden
    LM head          vocab*hidden unless tied_embeddings
    positions        seq_len*hidden, gpt-style models only (learned position table)
    per layer        2 norms (layernorm 2*hidden each, rmsnorm hidden each); 4 with post_norms
      attention mha  q hidden*heads*hd, k and v hidden*kv_heads*hd each, o heads*hd*hidden;
                     gpt-style adds biases heads*hd + 2*kv_heads*hd (q, k, v) + hidden (o)
      attention mla  q_a hidden*q_lora + q_a_norm q_lora + q_b q_lora*heads*(nope+rope)
                     (q_lora 0: hidden*heads*(nope+rope)), kv_a hidden*(kv_lora+rope)
                     + kv_a_norm kv_lora, kv_b kv_lora*heads*(nope+v), o heads*v*hidden
      dense MLP      gelu 2*hidden*ffn (gpt-style adds biases ffn + hidden), swiglu/geglu/quick_geglu
                     3*hidden*ffn (linear_bias adds 2*ffn + hidden)
      MoE MLP        router hidden*experts + (experts + shared)*m*hidden*moe_ffn,
                     m = 3 for gated units, 2 for gelu; with linear_bias each expert adds its
                     biases and the router experts
      linear_bias    the gpt-style q, k, v and o biases on any model; attention.sinks: heads per layer
                     (the first moe.dense_layers layers use the dense MLP with top-level ffn_hidden)
    final norm       one more norm
    active params    the same, with only top_k + shared experts per MoE layer (router kept whole)
Not counted, by convention: Qwen2 q/k/v biases, Qwen3 q_norm/k_norm, DeepSeek's router bias and
MTP module; counted although absent: learned positions of gpt_neox (RoPE, but layernorm + gelu).
"""

import argparse
import glob
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SpecError(Exception):
    pass


# ---------------------------------------------------------------- spec loading (mirrors C++)

TOP_KEYS = ["name", "layers", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden", "ffn_act",
            "glu_linear_offset", "ffn_clamp", "linear_bias", "vocab", "seq_len", "norm", "tied_embeddings", "qk_norm", "post_norms", "logit_softcap",
            "moe", "attention"]
MOE_KEYS = ["experts", "top_k", "ffn_hidden", "shared_experts", "dense_layers"]
MLA_KEYS = ["q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"]
ATT_KEYS = ["kind"] + MLA_KEYS + ["window", "global_every", "sinks"]  # windows change no parameter


def _edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[len(b)]


def closest_match(word, candidates):
    """Same rule as core/error.cpp: distance below len/2 + 2, ties to the smaller name."""
    best, best_d = "", len(word) // 2 + 2
    for c in candidates:
        d = _edit_distance(word, c)
        if d < best_d or (d == best_d and best and c < best):
            best, best_d = c, d
    return best


class _Obj:
    def __init__(self, d, file, path):
        if not isinstance(d, dict):
            raise SpecError(f"{file}: at {path or '/'}: expected an object")
        self.d, self.file, self.path = d, file, path

    def fail(self, key, msg):
        raise SpecError(f"{self.file}: at {self.path}/{key}: {msg}")

    def has(self, key):
        return self.d.get(key) is not None  # JSON null counts as absent

    def reject_unknown(self, known):
        for k in self.d:
            if k not in known:
                near = closest_match(k, known)
                self.fail(k, f'unknown field "{k}"' + (f' (did you mean "{near}"?)' if near else ""))

    def int(self, key, default=None, positive=False):
        if not self.has(key):
            if default is None:
                self.fail(key, "missing required field: expected an integer")
            return default
        v = self.d[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(key, f"expected an integer, found {v!r}")
        if isinstance(v, float):
            if not (math.isfinite(v) and v == math.floor(v) and abs(v) < 9.0e15):
                self.fail(key, f"expected an integer, found {v!r}")
            v = int(v)
        if positive and v <= 0:
            self.fail(key, f"expected a positive integer, found {v}")
        return v

    def enum(self, key, allowed, default):
        v = self.d.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            self.fail(key, f"expected a string, found {v!r}")
        if v not in allowed:
            self.fail(key, f"expected one of {allowed}, found {v!r}")
        return v


def spec_from_dict(d, file="<spec>"):
    """Parses and validates a spec dict exactly as core/model_spec.cpp does; returns it with defaults."""
    o = _Obj(d, file, "")
    o.reject_unknown(TOP_KEYS)
    if o.has("name") and not isinstance(d["name"], str):
        o.fail("name", f"expected a string, found {d['name']!r}")
    s = {"name": d["name"] if o.has("name") else "model"}
    s["layers"] = o.int("layers", positive=True)
    s["hidden"] = o.int("hidden", positive=True)
    s["heads"] = o.int("heads", positive=True)
    s["kv_heads"] = o.int("kv_heads", s["heads"], positive=True)
    s["ffn_act"] = o.enum("ffn_act", ["gelu", "swiglu", "geglu", "quick_geglu"], "gelu")
    gated = s["ffn_act"] in ("swiglu", "geglu", "quick_geglu")
    for k in ("glu_linear_offset", "ffn_clamp"):
        if o.has(k) and not gated:
            o.fail(k, f"expected no {k} without a gated ffn_act")
    lb = d.get("linear_bias")
    if lb is not None and not isinstance(lb, bool):
        o.fail("linear_bias", f"expected a boolean, found {lb!r}")
    s["linear_bias"] = bool(lb)
    if gated and not o.has("ffn_hidden"):
        o.fail("ffn_hidden", f'missing required field: expected ffn_hidden when ffn_act is "{s["ffn_act"]}"')
    s["post_norms"] = bool(d.get("post_norms", False))
    s["ffn_hidden"] = o.int("ffn_hidden", 4 * s["hidden"], positive=True)
    s["vocab"] = o.int("vocab", positive=True)
    s["seq_len"] = o.int("seq_len", positive=True)
    s["norm"] = o.enum("norm", ["layernorm", "rmsnorm"], "layernorm")
    t = d.get("tied_embeddings")
    if t is not None and not isinstance(t, bool):
        o.fail("tied_embeddings", f"expected a boolean, found {t!r}")
    s["tied_embeddings"] = bool(t)
    s["moe"] = None
    if o.has("moe"):
        m = _Obj(d["moe"], file, "/moe")
        m.reject_unknown(MOE_KEYS)
        moe = {"experts": m.int("experts", positive=True), "top_k": m.int("top_k", positive=True),
               "ffn_hidden": m.int("ffn_hidden", positive=True),
               "shared_experts": m.int("shared_experts", 0), "dense_layers": m.int("dense_layers", 0)}
        if moe["shared_experts"] < 0:
            m.fail("shared_experts", "expected a non-negative integer")
        if moe["dense_layers"] < 0:
            m.fail("dense_layers", "expected a non-negative integer")
        if moe["top_k"] > moe["experts"]:
            m.fail("top_k", f"expected top_k <= experts ({moe['experts']}), found {moe['top_k']}")
        s["moe"] = moe
    att = {"kind": "mha"}
    if o.has("attention"):
        a = _Obj(d["attention"], file, "/attention")
        a.reject_unknown(ATT_KEYS)
        kind = a.enum("kind", ["mha", "gqa", "mla"], "mha")
        att["kind"] = "mha" if kind == "gqa" else kind
        if att["kind"] == "mla":
            att["q_lora_rank"] = a.int("q_lora_rank", 0)
            if att["q_lora_rank"] < 0:
                a.fail("q_lora_rank", "expected a non-negative integer")
            for k in MLA_KEYS[1:]:
                att[k] = a.int(k, positive=True)
        else:
            for k in MLA_KEYS:
                if a.has(k):
                    a.fail(k, 'expected no MLA field when attention.kind is "mha"')
        if a.has("window"):
            att["window"] = a.int("window", positive=True)
        if a.has("global_every"):
            if not a.has("window"):
                a.fail("global_every", "expected no global_every without a window")
            att["global_every"] = a.int("global_every", positive=True)
        att["sinks"] = bool(d["attention"].get("sinks", False))
    s["attention"] = att
    if o.has("head_dim"):
        s["head_dim"] = o.int("head_dim", positive=True)
    else:
        if att["kind"] != "mla" and s["hidden"] % s["heads"] != 0:
            o.fail("hidden", f"expected hidden ({s['hidden']}) divisible by heads ({s['heads']})")
        s["head_dim"] = s["hidden"] // s["heads"]
    if att["kind"] == "mla":
        s["head_dim"] = att["qk_nope_head_dim"] + att["qk_rope_head_dim"]
    if s["heads"] % s["kv_heads"] != 0:
        o.fail("kv_heads", f"expected kv_heads ({s['kv_heads']}) to divide heads ({s['heads']})")
    if s["moe"] and s["moe"]["dense_layers"] > s["layers"]:
        o.fail("moe/dense_layers", f"expected dense_layers <= layers ({s['layers']})")
    return s


def load_spec(path):
    with open(path) as f:
        return spec_from_dict(json.load(f), path)


# ---------------------------------------------------------------- counting


def count(s):
    """Returns a breakdown dict; 'total' and 'active' are the two headline numbers."""
    h, L, V = s["hidden"], s["layers"], s["vocab"]
    gpt_style = s["norm"] == "layernorm" and s["ffn_act"] == "gelu"
    bias = gpt_style or s.get("linear_bias", False)
    norm = 2 * h if s["norm"] == "layernorm" else h
    b = {"embedding": V * h, "lm_head": 0 if s["tied_embeddings"] else V * h,
         "positions": s["seq_len"] * h if gpt_style else 0}

    a = s["attention"]
    if a["kind"] == "mla":
        heads, nope, rope, vd = s["heads"], a["qk_nope_head_dim"], a["qk_rope_head_dim"], a["v_head_dim"]
        ql, kvl = a["q_lora_rank"], a["kv_lora_rank"]
        q = (h * ql + ql + ql * heads * (nope + rope)) if ql else h * heads * (nope + rope)
        attn = q + h * (kvl + rope) + kvl + kvl * heads * (nope + vd) + heads * vd * h
    else:
        hd, heads, kv = s["head_dim"], s["heads"], s["kv_heads"]
        attn = h * heads * hd + 2 * h * kv * hd + heads * hd * h
        if bias:
            attn += heads * hd + 2 * kv * hd + h
        if a.get("sinks"):
            attn += heads

    mats = 3 if s["ffn_act"] in ("swiglu", "geglu", "quick_geglu") else 2
    def mlp_bias(f):  # fc1 (both halves when gated) and fc2
        return ((mats - 1) * f + h) if bias else 0
    dense_mlp = mats * h * s["ffn_hidden"] + mlp_bias(s["ffn_hidden"])
    moe = s["moe"]
    n_moe = L - moe["dense_layers"] if moe else 0
    n_dense = L - n_moe
    if moe:
        expert = mats * h * moe["ffn_hidden"] + mlp_bias(moe["ffn_hidden"])
        router = h * moe["experts"] + (moe["experts"] if bias else 0)
        moe_total = router + (moe["experts"] + moe["shared_experts"]) * expert
        moe_active = router + (moe["top_k"] + moe["shared_experts"]) * expert
    else:
        moe_total = moe_active = 0

    b["layer_norms"] = L * (4 if s.get("post_norms") else 2) * norm
    b["attention"] = L * attn
    b["dense_mlp"] = n_dense * dense_mlp
    b["moe_mlp"] = n_moe * moe_total
    b["final_norm"] = norm
    b["total"] = sum(b[k] for k in ("embedding", "lm_head", "positions", "layer_norms", "attention",
                                    "dense_mlp", "moe_mlp", "final_norm"))
    b["active"] = b["total"] - n_moe * (moe_total - moe_active)
    b["non_embedding"] = b["total"] - b["embedding"] - b["lm_head"] - b["positions"]
    return b


# ---------------------------------------------------------------- Hugging Face config.json -> spec

# tie_word_embeddings when config.json omits it: the model class's default (PretrainedConfig: true).
HF_TIE_DEFAULT = {"llama": False, "mistral": False, "mixtral": False, "phi3": False, "gemma2": True,
                  "gemma3_text": True, "qwen2": False, "qwen3": False,
                  "qwen3_moe": False, "deepseek_v3": False, "gpt2": True, "gpt_neox": False,
                  "gpt_oss": False, "kimi_k2": False, "glm4_moe": False}


def _seq_len(c):
    # As graph/hf_config.cpp: the context window. For context-extended models it is not the
    # training length (DeepSeek-V3: 163840; rope_scaling.original_max_position_embeddings 4096);
    # only gpt-style counts depend on it.
    return c["max_position_embeddings"]


def hf_to_spec(c, name="hf"):
    """The mapping table of docs/model-spec.md. Raises SpecError for what the spec cannot express."""
    mt = c.get("model_type")
    if mt not in HF_TIE_DEFAULT:
        raise SpecError(f"{name}: model_type {mt!r} is not supported")
    tied = c.get("tie_word_embeddings")
    tied = HF_TIE_DEFAULT[mt] if tied is None else tied
    if mt == "gpt2":
        h = c["n_embd"]
        return spec_from_dict({"name": name, "layers": c["n_layer"], "hidden": h, "heads": c["n_head"],
                               "ffn_hidden": c.get("n_inner") or 4 * h, "ffn_act": "gelu",
                               "vocab": c["vocab_size"], "seq_len": c["n_positions"], "norm": "layernorm",
                               "tied_embeddings": tied}, name)
    if mt == "gpt_neox":
        return spec_from_dict({"name": name, "layers": c["num_hidden_layers"], "hidden": c["hidden_size"],
                               "heads": c["num_attention_heads"], "ffn_hidden": c["intermediate_size"],
                               "ffn_act": "gelu", "vocab": c["vocab_size"], "seq_len": _seq_len(c),
                               "norm": "layernorm", "tied_embeddings": tied}, name)
    d = {"name": name, "layers": c["num_hidden_layers"], "hidden": c["hidden_size"],
         "heads": c["num_attention_heads"], "kv_heads": c.get("num_key_value_heads"),
         "ffn_hidden": c["intermediate_size"], "ffn_act": "swiglu", "vocab": c["vocab_size"],
         "seq_len": _seq_len(c), "norm": "rmsnorm", "tied_embeddings": tied}
    if c.get("head_dim") is not None:
        d["head_dim"] = c["head_dim"]
    if mt in ("gemma2", "gemma3_text"):  # GeGLU, a norm after attention and FFN too
        d["ffn_act"] = "geglu"
        d["post_norms"] = True
    if mt == "gpt_oss":  # biased linears, a sink per head, clamped quick-GEGLU experts
        d.update({"ffn_act": "quick_geglu", "glu_linear_offset": 1.0, "ffn_clamp": c.get("swiglu_limit", 7.0),
                  "linear_bias": True})
        d["moe"] = {"experts": c["num_local_experts"],
                    "top_k": c.get("num_experts_per_tok") or c["experts_per_token"],
                    "ffn_hidden": c["intermediate_size"], "shared_experts": 0, "dense_layers": 0}
        d["attention"] = {"kind": "mha", "sinks": True}
    if mt == "mixtral":
        d["moe"] = {"experts": c["num_local_experts"], "top_k": c["num_experts_per_tok"],
                    "ffn_hidden": c["intermediate_size"], "shared_experts": 0, "dense_layers": 0}
    elif mt == "qwen3_moe":
        step = c.get("decoder_sparse_step", 1)
        if step != 1 or c.get("mlp_only_layers"):
            raise SpecError(f"{name}: decoder_sparse_step != 1 or mlp_only_layers: interleaved dense "
                            "layers cannot be expressed (only a dense prefix)")
        d["moe"] = {"experts": c["num_experts"], "top_k": c["num_experts_per_tok"],
                    "ffn_hidden": c["moe_intermediate_size"], "shared_experts": 0, "dense_layers": 0}
    elif mt == "glm4_moe":  # GQA attention (q/k/v biases not carried), DeepSeek-V3's MoE keys
        d["moe"] = {"experts": c["n_routed_experts"], "top_k": c["num_experts_per_tok"],
                    "ffn_hidden": c["moe_intermediate_size"], "shared_experts": c.get("n_shared_experts") or 0,
                    "dense_layers": c.get("first_k_dense_replace") or 0}
    elif mt in ("deepseek_v3", "kimi_k2"):  # Kimi K2: DeepSeek-V3's architecture and keys
        if c.get("moe_layer_freq", 1) != 1:
            raise SpecError(f"{name}: moe_layer_freq != 1 cannot be expressed")
        d["moe"] = {"experts": c["n_routed_experts"], "top_k": c["num_experts_per_tok"],
                    "ffn_hidden": c["moe_intermediate_size"], "shared_experts": c.get("n_shared_experts") or 0,
                    "dense_layers": c.get("first_k_dense_replace") or 0}
        d["attention"] = {"kind": "mla", "q_lora_rank": c.get("q_lora_rank") or 0,
                          "kv_lora_rank": c["kv_lora_rank"], "qk_nope_head_dim": c["qk_nope_head_dim"],
                          "qk_rope_head_dim": c["qk_rope_head_dim"], "v_head_dim": c["v_head_dim"]}
    return spec_from_dict(d, name)


# ---------------------------------------------------------------- published figures


def narayanan(l, h, V=51200, s=2048):
    """Narayanan et al. SC'21, eq. for Table 1: 12*l*h^2*(1 + 13/(12h) + (V+s)/(12*l*h))."""
    return 12 * l * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * l * h))


B = 1e9
# (model, metric, published, precision of the printed figure, source). metric: total, active,
# non_embedding, active_excl_input_embedding. Rows whose source starts with "info:" are shown, not checked.
TARGETS = []
for _n, _l, _h, _pub in [("gpt-1.7b", 24, 2304, 1.7), ("gpt-3.6b", 30, 3072, 3.6), ("gpt-7.5b", 36, 4096, 7.5),
                         ("gpt-18.4b", 40, 6144, 18.4), ("gpt-39.1b", 48, 8192, 39.1),
                         ("gpt-76.1b", 60, 10240, 76.1), ("gpt-145.6b", 80, 12288, 145.6),
                         ("gpt-310.1b", 96, 16384, 310.1), ("gpt-529.6b", 105, 20480, 529.6),
                         ("gpt-1t", 128, 25600, 1008.0)]:
    TARGETS.append((_n, "total", _pub * B, 0.1 * B, "Narayanan SC'21 Table 1"))
    TARGETS.append((_n, "total", narayanan(_l, _h), 0, "Narayanan SC'21 formula (tied, no final norm)"))
TARGETS += [
    ("gpt-22b", "total", 22 * B, 1 * B, "Korthikanti et al. 2022 (22B configuration)"),
    ("gpt-22b", "total", narayanan(48, 6144), 0, "Narayanan formula"),
    ("gpt3-175b", "total", 174.6 * B, 0.1 * B, "GPT-3 175B (Brown et al.; 174.6B exact)"),
    ("llama2-7b", "total", 6.74 * B, 0.01 * B, "Llama 2 (HF count)"),
    ("llama2-13b", "total", 13.0 * B, 0.1 * B, "Llama 2 (HF count 13.02B)"),
    ("llama2-70b", "total", 69.0 * B, 0.1 * B, "Llama 2 (HF count 68.98B)"),
    ("llama3-8b", "total", 8.03 * B, 0.01 * B, "Llama 3 model card"),
    ("llama3-70b", "total", 70.6 * B, 0.1 * B, "Llama 3 model card"),
    ("llama3-405b", "total", 405.9 * B, 0.1 * B, "Llama 3.1 405B"),
    ("mixtral-8x7b", "total", 46.7 * B, 0.1 * B, "Mixtral paper"),
    ("mixtral-8x7b", "active", 12.9 * B, 0.1 * B, "Mixtral paper"),
    ("mixtral-8x22b", "total", 141 * B, 1 * B, "Mistral announcement"),
    ("mixtral-8x22b", "active", 39 * B, 1 * B, "Mistral announcement"),
    ("deepseek-v3", "total", 671 * B, 1 * B, "DeepSeek-V3 report (main model, no MTP)"),
    ("deepseek-v3", "active", 37 * B, 1 * B, "info: DeepSeek-V3 headline '37B activated'"),
    ("deepseek-v3", "active_excl_input_embedding", 36.6 * B, 0.1 * B,
     "DeepSeek-V3 README_WEIGHTS: 36.6B activated incl. 0.9B output head"),
    ("qwen3-30b-a3b", "total", 30.5 * B, 0.1 * B, "Qwen3-30B-A3B model card"),
    ("gpt-oss-120b", "total", 116.8 * B, 0.1 * B, "gpt-oss-120b model card (116.8B total)"),
    ("gpt-oss-120b", "active_excl_input_embedding", 5.1 * B, 0.1 * B,
     "gpt-oss-120b model card (5.1B active per token)"),
    # 3.3B is 3.35B cut, not rounded: the total and non-embedding rows match to 0.1%, and no
    # counting convention (with or without embeddings) lands nearer 3.3B.
    ("qwen3-30b-a3b", "active", 3.3 * B, 0.1 * B, "info: Qwen3-30B-A3B model card '3.3B activated'"),
    ("qwen3-30b-a3b", "non_embedding", 29.9 * B, 0.1 * B, "Qwen3-30B-A3B model card (non-embedding)"),
]


def metric(b, m):
    if m == "active_excl_input_embedding":
        return b["active"] - b["embedding"]
    return b[m]


def fmt(n):
    return f"{n / B:,.3f}B" if n >= 1e8 else f"{n:,.0f}"


def check_zoo():
    specs = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "models", "*.json"))):
        s = load_spec(path)
        base = os.path.splitext(os.path.basename(path))[0]
        if s["name"] != base:
            raise SpecError(f"{path}: name {s['name']!r} differs from the file name")
        specs[base] = s
    counts = {n: count(s) for n, s in specs.items()}
    print(f"{'model':<15} {'metric':<13} {'computed':>13} {'published':>13} {'err %':>7} {'tol %':>6}  ok   source")
    bad = 0
    for name, m, pub, prec, src in TARGETS:
        if name not in counts:
            print(f"{name:<15} missing models/{name}.json")
            bad += 1
            continue
        got = metric(counts[name], m)
        err = (got - pub) / pub * 100
        tol = max(1.0, 0.5 * prec / pub * 100)
        info = src.startswith("info:")
        ok = "info" if info else ("yes" if abs(err) <= tol else "NO")
        if ok == "NO":
            bad += 1
        label = {"active_excl_input_embedding": "active-emb", "non_embedding": "non-emb"}.get(m, m)
        print(f"{name:<15} {label:<13} {fmt(got):>13} {fmt(pub):>13} {err:>+7.3f} {tol:>6.2f}  {ok:<4} {src}")
    for n in sorted(set(counts) - {t[0] for t in TARGETS}):
        c = counts[n]
        print(f"{n:<15} {'total':<13} {fmt(c['total']):>13} {'':>13} {'':>7} {'':>6}  -    (test model; "
              f"active {fmt(c['active'])})")
    print(f"\n{len(specs)} spec files loaded; {bad} row(s) outside tolerance")
    return bad == 0


def read_expected():
    """Rows of the table under "## Counts" in EXPECTED.md: | fixture | total | active | ..."""
    path = os.path.join(ROOT, "tests", "data", "hf", "EXPECTED.md")
    out = {}
    if not os.path.exists(path):
        return out
    section = ""
    for line in open(path):
        if line.startswith("## "):
            section = line[3:].strip()
        if section != "Counts":
            continue
        m = re.match(r"\|\s*`?([a-z0-9_]+)\.json`?\s*\|\s*([0-9,]+)\s*\|\s*([0-9,]+)\s*\|", line)
        if m:
            out[m.group(1)] = (int(m.group(2).replace(",", "")), int(m.group(3).replace(",", "")))
    return out


def check_hf():
    expected = read_expected()
    bad = 0
    print(f"{'fixture':<18} {'total':>16} {'active':>16}  EXPECTED.md")
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "hf", "*.json"))):
        base = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            c = json.load(f)
        b = count(hf_to_spec(c, base))
        exp = expected.get(base)
        state = "missing" if exp is None else ("matches" if exp == (b["total"], b["active"]) else f"DIFFERS {exp}")
        bad += state != "matches"
        print(f"{base + '.json':<18} {b['total']:>16,} {b['active']:>16,}  {state}")
    return bad == 0


def show(path):
    with open(path) as f:
        d = json.load(f)
    s = hf_to_spec(d, os.path.basename(path)) if "model_type" in d else spec_from_dict(d, path)
    b = count(s)
    print(f"{path}")
    print("  spec: " + json.dumps({k: v for k, v in s.items() if v is not None}))
    for k, v in b.items():
        print(f"  {k:<14} {v:>18,}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hf", action="store_true", help="count tests/data/hf/*.json, check EXPECTED.md")
    ap.add_argument("files", nargs="*", help="spec files or HF config.json files to break down")
    args = ap.parse_args()
    try:
        if args.files:
            for p in args.files:
                show(p)
            return 0
        ok = check_hf() if args.hf else check_zoo()
        return 0 if ok else 1
    except (SpecError, KeyError, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
