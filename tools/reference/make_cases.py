#!/usr/bin/env python3
"""Generates Hugging Face reference cases for qwen35-serve (shared/REFERENCE_CASES.md).

Runs transformers' own Qwen3.5 implementation (fp32, CPU, deterministic) on small random
checkpoints and writes one folder per case:

    case.json              {"kind", "seed", "notes", ...}
    model/                 save_pretrained() output: config.json, model.safetensors (fp32), ...
    inputs.safetensors     named inputs
    expected.safetensors   named reference outputs

Usage (on the GPU machine, which has torch + transformers 5.17):
    python3 tools/reference/make_cases.py --out tests/reference [--only NAME] [--seed-offset K]

--seed-offset makes fresh, never-committed cases of the same shapes (for checking that the
implementation generalises beyond the committed ones).
"""
import argparse
import json
import math
import os
import sys

import torch
from safetensors.torch import save_file


def perturb_(model, seed):
    """Re-initialises every parameter with noise so no `w` vs `1 + w` mistake can hide.

    Scales keep activations O(1) through the small stack so logits have clear top-2 margins.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if name.endswith("A_log"):
                p.copy_(torch.log(torch.rand(p.shape, generator=gen) * 15 + 1) + 0.1 * noise)
            elif name.endswith("dt_bias"):
                p.copy_(0.5 * noise)
            elif name.endswith("linear_attn.norm.weight"):  # plain-weight gated RMSNorm
                p.copy_(1.0 + 0.2 * noise)
            elif "norm" in name and p.dim() == 1:  # zero-centred RMSNorms (and vision LayerNorms)
                p.copy_(0.2 * noise)
            elif name.endswith("conv1d.weight"):
                p.copy_(0.5 * noise)
            elif "embed_tokens" in name:
                p.copy_(noise)
            elif name == "lm_head.weight":  # untied head: logits of a similar scale to tied ones
                p.copy_(noise * (4.0 / math.sqrt(p.shape[1])))
            elif p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(noise * (0.8 / math.sqrt(fan_in)))
            else:
                p.copy_(0.1 * noise)


def text_config_dict(spec):
    layer_types = spec.get("layer_types")
    n_layers = spec["layers"] if layer_types is None else len(layer_types)
    d = dict(
        vocab_size=spec.get("vocab", 512),
        hidden_size=spec["hidden"],
        intermediate_size=spec["inter"],
        num_hidden_layers=n_layers,
        num_attention_heads=spec["hq"],
        num_key_value_heads=spec["hkv"],
        head_dim=spec["d"],
        linear_num_key_heads=spec["hk"],
        linear_num_value_heads=spec["hv"],
        linear_key_head_dim=spec["dk"],
        linear_value_head_dim=spec["dv"],
        linear_conv_kernel_dim=4,
        rms_norm_eps=1e-6,
        hidden_act="silu",
        max_position_embeddings=4096,
        tie_word_embeddings=spec["tied"],
        rope_parameters={
            "rope_type": "default",
            "rope_theta": spec.get("theta", 10000000.0),
            "partial_rotary_factor": spec.get("partial", 0.25),
            "mrope_section": spec["mrope"],
            "mrope_interleaved": True,
        },
    )
    if layer_types is not None:
        d["layer_types"] = layer_types
    return d


def vision_config_dict(spec, out_hidden):
    return dict(
        depth=spec.get("vdepth", 2),
        hidden_size=spec.get("vhidden", 64),
        intermediate_size=spec.get("vinter", 96),
        num_heads=spec.get("vheads", 4),
        in_channels=3,
        patch_size=16,
        spatial_merge_size=2,
        temporal_patch_size=2,
        out_hidden_size=out_hidden,
        num_position_embeddings=spec.get("vpos", 64),
        hidden_act="gelu_pytorch_tanh",
    )


def build_model(spec, seed):
    from transformers import (Qwen3_5Config, Qwen3_5ForCausalLM,
                              Qwen3_5ForConditionalGeneration, Qwen3_5TextConfig)
    torch.manual_seed(seed)
    tcfg = text_config_dict(spec)
    if spec.get("causal_lm"):
        config = Qwen3_5TextConfig(**tcfg)
        model = Qwen3_5ForCausalLM(config)
    else:
        config = Qwen3_5Config(text_config=tcfg,
                               vision_config=vision_config_dict(spec, tcfg["hidden_size"]),
                               tie_word_embeddings=spec["tied"])
        model = Qwen3_5ForConditionalGeneration(config)
    model = model.float().eval()
    perturb_(model, seed)
    if spec["tied"]:
        model.tie_weights()
    return model


def greedy_with_cache(model, input_ids, n_new):
    """Greedy decode with the KV/recurrent cache; returns ids and the logits that chose each."""
    from transformers import GenerationConfig
    gc = GenerationConfig(do_sample=False, max_new_tokens=n_new, min_new_tokens=n_new,
                          eos_token_id=None, pad_token_id=0, bos_token_id=None)
    out = model.generate(input_ids=input_ids[None], generation_config=gc, use_cache=True,
                         output_logits=True, return_dict_in_generate=True)
    ids = out.sequences[0, input_ids.numel():]
    step_logits = torch.stack([l[0] for l in out.logits])
    return ids, step_logits


def make_text_case(root, name, spec, seed, notes):
    case_dir = os.path.join(root, name)
    os.makedirs(case_dir, exist_ok=True)
    model = build_model(spec, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    vocab = spec.get("vocab", 512)
    input_ids = torch.randint(0, vocab, (spec["prompt"],), generator=gen, dtype=torch.int64)
    with torch.no_grad():
        logits = model(input_ids=input_ids[None], use_cache=False).logits[0].float()
        greedy_ids, step_logits = greedy_with_cache(model, input_ids, spec["greedy"])
    # The prefill logit that chose the first token must be the prefill's last row.
    assert torch.allclose(step_logits[0], logits[-1], atol=1e-4), "cache/no-cache mismatch"
    model.save_pretrained(os.path.join(case_dir, "model"), safe_serialization=True)
    save_file({"input_ids": input_ids.contiguous()}, os.path.join(case_dir, "inputs.safetensors"))
    save_file({"logits": logits.contiguous(), "greedy_ids": greedy_ids.contiguous(),
               "step_logits": step_logits.float().contiguous()},
              os.path.join(case_dir, "expected.safetensors"))
    top2 = torch.topk(step_logits, 2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    meta = {"kind": "text", "seed": seed, "notes": notes, "spec": spec,
            "logit_scale": float(logits.abs().max()), "min_greedy_margin": margin}
    with open(os.path.join(case_dir, "case.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(f"[make_cases] {name}: T={spec['prompt']} greedy={spec['greedy']} "
          f"logit_scale={meta['logit_scale']:.3f} min_margin={margin:.4f}", flush=True)


BASE = dict(vocab=512, hidden=64, inter=128, hq=4, hkv=2, d=32, partial=0.5, mrope=[3, 3, 2])

TEXT_CASES = {
    # Bare text config (Qwen3_5ForCausalLM), tied head, Hv == Hk, Dv != Dk, 65-token prompt.
    "text_causal_tied_hv1": (dict(BASE, causal_lm=True, tied=True, layers=4, hk=2, hv=2, dk=16,
                                  dv=24, prompt=65, greedy=12),
                             "ForCausalLM config, tied head, Hv/Hk=1, Dk!=Dv, 65 tokens"),
    # Conditional-generation config, untied, Hv/Hk = 2, long prompt crossing two chunk borders.
    "text_cond_untied_hv2": (dict(BASE, tied=False, layers=8, hk=2, hv=4, dk=16, dv=32,
                                  prompt=150, greedy=16),
                             "ConditionalGeneration config, untied, Hv/Hk=2, 150 tokens"),
    # Hv/Hk = 3, explicit irregular layer_types, prompt of exactly one chunk.
    "text_cond_tied_hv3_chunk64": (dict(BASE, tied=True, hk=1, hv=3, dk=16, dv=8, prompt=64,
                                        greedy=10, layer_types=["linear_attention", "full_attention",
                                                                "linear_attention", "linear_attention",
                                                                "full_attention"]),
                                   "Hv/Hk=3, explicit irregular layer_types, 64 tokens"),
    "text_cond_untied_hv2_63": (dict(BASE, tied=False, layers=4, hk=2, hv=4, dk=16, dv=16,
                                     prompt=63, greedy=8),
                                "63 tokens (one short of a chunk)"),
    "text_causal_untied_1tok": (dict(BASE, causal_lm=True, tied=False, layers=4, hk=2, hv=4, dk=8,
                                     dv=16, prompt=1, greedy=20),
                                "single-token prompt, decode from an empty state"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None, help="comma-separated case names")
    ap.add_argument("--seed-offset", type=int, default=0)
    ap.add_argument("--suffix", default="", help="appended to case names (for unseen cases)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    torch.use_deterministic_algorithms(True)
    only = set(args.only.split(",")) if args.only else None
    import transformers
    print(f"[make_cases] torch {torch.__version__} transformers {transformers.__version__}", flush=True)
    for i, (name, (spec, notes)) in enumerate(TEXT_CASES.items()):
        if only and name not in only:
            continue
        seed = 1000 + 17 * i + args.seed_offset
        make_text_case(args.out, name + args.suffix, spec, seed, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
