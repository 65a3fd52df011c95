#!/usr/bin/env python3
"""Generates Hugging Face reference cases for the Qwen3.5 vision encoder and multimodal prefill.

Runs transformers' own Qwen3.5 implementation (fp32, CPU, deterministic) on small random but
non-degenerate checkpoints and writes one folder per case (shared/REFERENCE_CASES.md):

    case.json              {"kind", "seed", "notes", ...}
    model/                 save_pretrained() output: config.json, model.safetensors (fp32), ...
    inputs.safetensors     named inputs
    expected.safetensors   named reference outputs

Kinds written here:
  vision      inputs  pixel_values f32 [P, 1536], image_grid_thw i64 [I, 3],
                      pixel_values_videos f32 [Pv, 1536], video_grid_thw i64 [V, 3]
              expected image_embeds f32 [P/4, H], video_embeds f32 [Pv/4, H]
  multimodal  inputs  input_ids i64 [T], mm_token_type_ids i64 [T] + the vision inputs above
              expected image_embeds, video_embeds, position_ids i64 [3, T], rope_delta i64 [1],
                      logits f32 [T, V], greedy_ids i64 [N], step_logits f32 [N, V]
  placeholder_expansion
              expansion.json only: a prompt tokenised by the small Qwen3.5 tokenizer of
              tests/reference/tokenizer_qwen35_small, expanded by the real Qwen3VLProcessor
              (images + a video with timestamps), with HF's get_rope_index positions.

Small-vocabulary trick: the placeholder / vision_start / vision_end ids are config fields, so the
multimodal cases set them inside a 256-token vocabulary (250..253) and keep the files small.

Usage (on the GPU machine: torch + transformers 5.17, offline, CPU is used):
    python3 tools/reference/make_multimodal_cases.py --out OUT_DIR [--only NAME,NAME]
        [--seed-offset K --suffix _unseen]

Each case is generated inside try/except: a failure prints its traceback and the script goes on
with the next case (exit status 1 if any case failed). It prints the transformers signatures it
relies on, so a version difference is visible in the log.
"""
import argparse
import inspect
import json
import math
import os
import sys
import traceback

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_cases as mc  # noqa: E402  (perturb_, text_config_dict, vision_config_dict, greedy_with_cache)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Placeholder ids inside the small vocabulary (text tokens are drawn below TEXT_ID_LIMIT).
SMALL_IDS = dict(image_token_id=250, video_token_id=251, vision_start_token_id=252,
                 vision_end_token_id=253)
TEXT_ID_LIMIT = 240


def log(msg):
    print(f"[make_multimodal_cases] {msg}", flush=True)


def describe_api(model):
    """Prints the signatures of every transformers entry point this script relies on."""
    inner = getattr(model, "model", None)
    for owner_name, owner in (("model", model), ("model.model", inner)):
        if owner is None:
            continue
        for name in ("get_rope_index", "get_image_features", "get_video_features", "forward"):
            fn = getattr(owner, name, None)
            if fn is not None:
                try:
                    log(f"  {owner_name}.{name}{inspect.signature(fn)}")
                except (TypeError, ValueError):
                    log(f"  {owner_name}.{name} (signature unavailable)")
    visual = getattr(inner, "visual", None) if inner is not None else None
    if visual is not None:
        log(f"  model.model.visual: {type(visual).__name__}{inspect.signature(visual.forward)}")


# ---------------------------------------------------------------------------------------------
# Model construction

def perturb_vision_(visual, seed):
    """Re-initialises the vision tower so every piece matters and activations stay O(1).

    make_cases.perturb_ centres every 1-D "norm" weight at 0 (right for the zero-centred text
    RMSNorms); the vision LayerNorms use a plain weight, so they get 1 + noise here, biases get
    visible noise, and the position table is O(1) so a wrong interpolation shows.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in visual.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                p.copy_(0.2 * noise)
            elif name.endswith("pos_embed.weight"):
                p.copy_(0.5 * noise)
            else:  # linear / conv weights
                fan_in = p[0].numel()
                p.copy_(noise * (1.0 / math.sqrt(fan_in)))


def build_model(spec, seed):
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration
    torch.manual_seed(seed)
    tcfg = mc.text_config_dict(spec)
    vcfg = mc.vision_config_dict(spec, tcfg["hidden_size"])
    config = Qwen3_5Config(text_config=tcfg, vision_config=vcfg, tie_word_embeddings=spec["tied"],
                           **SMALL_IDS)
    model = Qwen3_5ForConditionalGeneration(config).float().eval()
    mc.perturb_(model, seed)
    perturb_vision_(model.model.visual, seed + 7)
    if spec["tied"]:
        model.tie_weights()
    for key, value in SMALL_IDS.items():
        assert getattr(model.config, key) == value, f"config.{key} was not applied"
    return model


def random_pixels(num_patches, patch_dim, gen):
    # Normalised pixels ((x - 127.5) / 127.5) lie in [-1, 1].
    return torch.rand((num_patches, patch_dim), generator=gen) * 2.0 - 1.0


def patch_dim_of(model):
    v = model.config.vision_config
    return v.in_channels * v.temporal_patch_size * v.patch_size * v.patch_size


def grid_tensor(grids):
    return torch.tensor(grids, dtype=torch.int64).reshape(-1, 3)


def encode(model, pixels, grid, kind="image"):
    """Merged vision features f32 [P/4, H] through the public get_image_features /
    get_video_features entry point, cross-checked against calling model.model.visual directly."""
    fn = getattr(model.model, f"get_{kind}_features", None) or model.model.get_image_features
    out = fn(pixels, grid)
    feats = getattr(out, "pooler_output", out)
    if isinstance(feats, (list, tuple)):
        feats = torch.cat(list(feats), dim=0)
    direct = model.model.visual(pixels, grid_thw=grid)
    direct = getattr(direct, "pooler_output", direct)
    if isinstance(direct, (list, tuple)):
        direct = torch.cat(list(direct), dim=0)
    assert torch.allclose(feats, direct, rtol=0, atol=1e-6), "get_image_features and visual() disagree"
    m = model.config.vision_config.spatial_merge_size
    assert feats.shape[0] == int(grid.prod(-1).sum()) // (m * m), feats.shape
    return feats.float().contiguous()


def save_case(case_dir, model, meta, inputs, expected):
    os.makedirs(case_dir, exist_ok=True)
    model.save_pretrained(os.path.join(case_dir, "model"), safe_serialization=True)
    save_file({k: v.contiguous() for k, v in inputs.items()},
              os.path.join(case_dir, "inputs.safetensors"))
    save_file({k: v.contiguous() for k, v in expected.items()},
              os.path.join(case_dir, "expected.safetensors"))
    with open(os.path.join(case_dir, "case.json"), "w") as f:
        json.dump(meta, f, indent=2)


# ---------------------------------------------------------------------------------------------
# Vision-only cases

def make_vision_case(root, name, spec, seed, notes):
    model = build_model(spec, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    pd = patch_dim_of(model)
    inputs, expected = {}, {}
    with torch.no_grad():
        for kind, grids in (("image", spec.get("images")), ("video", spec.get("videos"))):
            if not grids:
                continue
            grid = grid_tensor(grids)
            pixels = random_pixels(int(grid.prod(-1).sum()), pd, gen)
            feats = encode(model, pixels, grid, kind)
            if kind == "image":
                inputs.update(pixel_values=pixels, image_grid_thw=grid)
                expected["image_embeds"] = feats
            else:
                inputs.update(pixel_values_videos=pixels, video_grid_thw=grid)
                expected["video_embeds"] = feats
    scales = {k: float(v.abs().max()) for k, v in expected.items()}
    meta = {"kind": "vision", "seed": seed, "notes": notes, "spec": spec, "output_scale": scales}
    save_case(os.path.join(root, name), model, meta, inputs, expected)
    log(f"{name}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in expected.items()) +
        f" scales {scales}")


# ---------------------------------------------------------------------------------------------
# Multimodal cases

def toy_timestamp_tokens(text):
    """A stand-in tokenizer for "<0.3 seconds>" strings (one id per character class), so the
    timestamp text is real prompt text in the small vocabulary."""
    ids = []
    i = 0
    while i < len(text):
        if text.startswith(" seconds", i):
            ids.append(30)
            i += len(" seconds")
            continue
        ch = text[i]
        ids.append(10 + int(ch) if ch.isdigit() else {"<": 20, ".": 21, ">": 22}[ch])
        i += 1
    return ids


def group_timestamps(frame_indices, fps, temporal_patch_size=2):
    """Qwen3VLProcessor._calculate_timestamps."""
    idx = list(frame_indices)
    while len(idx) % temporal_patch_size:
        idx.append(idx[-1])
    ts = [i / fps for i in idx]
    return [(ts[i] + ts[i + temporal_patch_size - 1]) / 2 for i in range(0, len(ts), temporal_patch_size)]


def expand_prompt(segments, image_grids, videos, merge, wrapper):
    """Builds input_ids as the processor would from a rendered prompt.

    segments: list of ("text", [ids]) / ("image",) / ("video",). Images render as
    <vs><image_pad><ve>; videos as <vs><video_pad><ve> with the pad replaced by, per temporal
    group, timestamp tokens + <vs> + pads + <ve>. wrapper "keep_outer" (transformers >= 5.10) keeps
    the template's outer <vs>..<ve>; "replace_triple" (< 5.10) replaces the whole triple.
    """
    vs, ve = SMALL_IDS["vision_start_token_id"], SMALL_IDS["vision_end_token_id"]
    img, vid = SMALL_IDS["image_token_id"], SMALL_IDS["video_token_id"]
    ids = []
    images, vids = iter(image_grids), iter(videos)
    for seg in segments:
        if seg[0] == "text":
            ids += seg[1]
        elif seg[0] == "image":
            t, h, w = next(images)
            ids += [vs] + [img] * (t * h * w // (merge * merge)) + [ve]
        else:
            video = next(vids)
            t, h, w = video["grid"]
            body = []
            for g in range(t):
                body += video["timestamp_tokens"][g] + [vs] + [vid] * (h * w // (merge * merge)) + [ve]
            ids += ([vs] + body + [ve]) if wrapper == "keep_outer" else body
    types = [1 if i == img else 2 if i == vid else 0 for i in ids]
    return torch.tensor(ids, dtype=torch.int64), torch.tensor(types, dtype=torch.int64)


def rope_index(model, input_ids, types, image_grid, video_grid):
    fn = model.model.get_rope_index
    params = inspect.signature(fn).parameters
    kwargs = dict(image_grid_thw=image_grid, video_grid_thw=video_grid,
                  attention_mask=torch.ones_like(input_ids)[None])
    if "mm_token_type_ids" in params:
        kwargs["mm_token_type_ids"] = types[None]
    pos, delta = fn(input_ids[None], **kwargs)
    return pos[:, 0, :].to(torch.int64).contiguous(), delta.reshape(-1)[:1].to(torch.int64).contiguous()


def make_multimodal_case(root, name, spec, seed, notes):
    model = build_model(spec, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    merge = model.config.vision_config.spatial_merge_size
    pd = patch_dim_of(model)

    def text(n):
        return ("text", torch.randint(0, TEXT_ID_LIMIT, (n,), generator=gen).tolist())

    videos = []
    for grid, frame_indices, fps in spec.get("videos", []):
        ts = group_timestamps(frame_indices, fps)
        assert len(ts) == grid[0], (ts, grid)
        strings = [f"<{t:.1f} seconds>" for t in ts]
        videos.append({"grid": grid, "timestamps": ts, "timestamp_text": strings,
                       "timestamp_tokens": [toy_timestamp_tokens(s) for s in strings]})
    segments = []
    for seg in spec["layout"]:
        segments.append(text(seg) if isinstance(seg, int) else (seg,))
    input_ids, types = expand_prompt(segments, spec.get("images", []), videos, merge,
                                     spec.get("wrapper", "keep_outer"))

    inputs = {"input_ids": input_ids, "mm_token_type_ids": types}
    fwd = {}
    image_grid = video_grid = None
    if spec.get("images"):
        image_grid = grid_tensor(spec["images"])
        inputs["pixel_values"] = random_pixels(int(image_grid.prod(-1).sum()), pd, gen)
        inputs["image_grid_thw"] = image_grid
        fwd.update(pixel_values=inputs["pixel_values"], image_grid_thw=image_grid)
    if videos:
        video_grid = grid_tensor([v["grid"] for v in videos])
        inputs["pixel_values_videos"] = random_pixels(int(video_grid.prod(-1).sum()), pd, gen)
        inputs["video_grid_thw"] = video_grid
        fwd.update(pixel_values_videos=inputs["pixel_values_videos"], video_grid_thw=video_grid)

    expected = {}
    with torch.no_grad():
        if image_grid is not None:
            expected["image_embeds"] = encode(model, inputs["pixel_values"], image_grid)
        if video_grid is not None:
            expected["video_embeds"] = encode(model, inputs["pixel_values_videos"], video_grid, "video")
        position_ids, rope_delta = rope_index(model, input_ids, types, image_grid, video_grid)
        expected["position_ids"], expected["rope_delta"] = position_ids, rope_delta
        attn = torch.ones_like(input_ids)[None]
        out = model(input_ids=input_ids[None], attention_mask=attn, mm_token_type_ids=types[None],
                    use_cache=False, **fwd)
        logits = out.logits[0].float()
        expected["logits"] = logits
        rope_deltas = getattr(out, "rope_deltas", None)
        if rope_deltas is not None:
            assert int(rope_deltas.reshape(-1)[0]) == int(rope_delta[0]), (rope_deltas, rope_delta)

        from transformers import GenerationConfig
        gc = GenerationConfig(do_sample=False, max_new_tokens=spec["greedy"],
                              min_new_tokens=spec["greedy"], eos_token_id=None, pad_token_id=0,
                              bos_token_id=None)
        gen_out = model.generate(input_ids=input_ids[None], attention_mask=attn,
                                 mm_token_type_ids=types[None], generation_config=gc,
                                 use_cache=True, output_logits=True, return_dict_in_generate=True,
                                 **fwd)
        greedy_ids = gen_out.sequences[0, input_ids.numel():].contiguous()
        step_logits = torch.stack([l[0] for l in gen_out.logits]).float()
        expected["greedy_ids"], expected["step_logits"] = greedy_ids, step_logits
    # The prefill logit that chose the first token must be the prefill's last row.
    assert torch.allclose(step_logits[0], logits[-1], atol=1e-4), "cache/no-cache mismatch"
    top2 = torch.topk(step_logits, 2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    meta = {"kind": "multimodal", "seed": seed, "notes": notes, "spec": spec,
            "wrapper": spec.get("wrapper", "keep_outer"),
            "videos": [{k: v[k] for k in ("grid", "timestamps", "timestamp_text", "timestamp_tokens")}
                       for v in videos],
            "num_tokens": int(input_ids.numel()), "rope_delta": int(rope_delta[0]),
            "logit_scale": float(logits.abs().max()), "min_greedy_margin": margin,
            "output_scale": {k: float(expected[k].abs().max())
                             for k in ("image_embeds", "video_embeds") if k in expected}}
    save_case(os.path.join(root, name), model, meta, inputs, expected)
    log(f"{name}: T={input_ids.numel()} rope_delta={int(rope_delta[0])} "
        f"greedy={greedy_ids.tolist()} logit_scale={meta['logit_scale']:.3f} min_margin={margin:.4f}")


# ---------------------------------------------------------------------------------------------
# The real processor's placeholder expansion (small Qwen3.5 tokenizer)

def make_expansion_case(root, name, spec, seed, notes):
    import numpy as np
    import transformers
    from transformers import AutoTokenizer
    tok_dir = os.path.join(REPO, "tests", "reference", "tokenizer_qwen35_small")
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    image_proc = video_proc = None
    for cls_name in ("Qwen2VLImageProcessor", "Qwen2VLImageProcessorFast", "Qwen2VLImageProcessorPil"):
        cls = getattr(transformers, cls_name, None)
        if cls is None:
            continue
        try:
            image_proc = cls(size={"shortest_edge": 32 * 32, "longest_edge": 64 * 64 * 4},
                             patch_size=16, temporal_patch_size=2, merge_size=2,
                             image_mean=[0.5] * 3, image_std=[0.5] * 3)
            log(f"  image processor: {cls_name}")
            break
        except Exception as e:  # noqa: BLE001 - try the next class
            log(f"  {cls_name} unusable: {e!r}")
    video_cls = getattr(transformers, "Qwen3VLVideoProcessor")
    video_proc = video_cls(size={"shortest_edge": 32 * 32, "longest_edge": 64 * 64 * 8},
                           patch_size=16, temporal_patch_size=2, merge_size=2,
                           image_mean=[0.5] * 3, image_std=[0.5] * 3, do_sample_frames=False)
    processor = transformers.Qwen3VLProcessor(image_processor=image_proc, tokenizer=tokenizer,
                                              video_processor=video_proc)
    log(f"  Qwen3VLProcessor.replace_video_token{inspect.signature(processor.replace_video_token)}")

    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in spec["image_sizes"]]
    n_frames, vh, vw = spec["video_shape"]
    video = rng.integers(0, 256, (n_frames, vh, vw, 3), dtype=np.uint8)
    fps = spec["fps"]
    frame_indices = spec["frame_indices"]
    text = spec["prompt"]
    call_kwargs = dict(text=[text], images=images, videos=[video], return_tensors="pt")
    attempts = []
    try:
        from transformers.video_utils import VideoMetadata
        md = VideoMetadata(total_num_frames=n_frames, fps=fps, frames_indices=frame_indices)
        attempts.append(("video_metadata=VideoMetadata", dict(video_metadata=[md])))
    except Exception as e:  # noqa: BLE001
        log(f"  VideoMetadata unavailable: {e!r}")
    attempts.append(("video_metadata=dict", dict(video_metadata=[{
        "total_num_frames": n_frames, "fps": fps, "frames_indices": frame_indices}])))
    batch = None
    for label, extra in attempts:
        try:
            batch = processor(**call_kwargs, **extra)
            log(f"  processor call with {label}")
            break
        except Exception as e:  # noqa: BLE001
            log(f"  processor call with {label} failed: {e!r}")
    if batch is None:
        raise RuntimeError("no processor call worked")

    input_ids = batch["input_ids"][0].to(torch.int64)
    types = batch["mm_token_type_ids"][0].to(torch.int64)
    image_grid = batch["image_grid_thw"].to(torch.int64)
    video_grid = batch["video_grid_thw"].to(torch.int64)
    ts = processor._calculate_timestamps(frame_indices, fps, video_proc.temporal_patch_size)
    ts_text = [f"<{t:.1f} seconds>" for t in ts]
    ts_tokens = [tokenizer(s, add_special_tokens=False)["input_ids"] for s in ts_text]
    prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    # get_rope_index of a tiny Qwen3_5Model (positions need only the config's merge size).
    model = build_model(dict(mc.BASE, vocab=2048, tied=True, layers=1, hk=2, hv=2, dk=16, dv=16,
                             vdepth=1), seed)
    ids = {k: getattr(tokenizer, "convert_tokens_to_ids")(v) for k, v in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    # Which video wrapper this transformers version uses, read off the output: keep_outer has one
    # more <|vision_start|> than images + temporal groups.
    n_vs = input_ids.tolist().count(ids["vision_start_token_id"])
    n_blocks = image_grid.shape[0] + int(video_grid[:, 0].sum())
    wrapper = {n_blocks + video_grid.shape[0]: "keep_outer", n_blocks: "replace_triple"}.get(n_vs, "unknown")
    fn = model.model.get_rope_index
    pos, delta = fn(input_ids[None], mm_token_type_ids=types[None], image_grid_thw=image_grid,
                    video_grid_thw=video_grid, attention_mask=torch.ones_like(input_ids)[None])
    data = {
        "transformers": transformers.__version__, "wrapper": wrapper,
        "token_ids": ids, "prompt_text": text, "prompt_ids": prompt_ids,
        "image_grid_thw": image_grid.tolist(), "video_grid_thw": video_grid.tolist(),
        "frame_indices": frame_indices, "fps": fps, "timestamps": ts, "timestamp_text": ts_text,
        "timestamp_tokens": ts_tokens, "input_ids": input_ids.tolist(),
        "mm_token_type_ids": types.tolist(), "position_ids": pos[:, 0, :].tolist(),
        "rope_delta": int(delta.reshape(-1)[0]),
    }
    case_dir = os.path.join(root, name)
    os.makedirs(case_dir, exist_ok=True)
    with open(os.path.join(case_dir, "expansion.json"), "w") as f:
        json.dump(data, f)
    with open(os.path.join(case_dir, "case.json"), "w") as f:
        json.dump({"kind": "placeholder_expansion", "seed": seed, "notes": notes, "spec": spec}, f,
                  indent=2)
    log(f"{name}: wrapper={wrapper} T={input_ids.numel()} images={image_grid.tolist()} video={video_grid.tolist()} "
        f"timestamps={ts_text} vision_start count={n_vs} rope_delta={data['rope_delta']}")


# ---------------------------------------------------------------------------------------------

# Text part: 256-token vocabulary (placeholders 250..253), hidden 64, rotary 16 with M-RoPE
# sections [3, 3, 2] so the H and W axes matter; layers include full attention (where positions act).
MM_BASE = dict(mc.BASE, vocab=256, vdepth=2, vhidden=64, vinter=96, vheads=4, vpos=64)

CASES = {
    # Vision only: head dim 32 (2 heads), a 16x16 position table; images interpolated down (4x6),
    # up in h and down in w (18x2), and a 3-group video.
    "vision_mixed_pos16": (make_vision_case,
                           dict(MM_BASE, vheads=2, vpos=256, tied=True, layers=1, hk=2, hv=2, dk=16,
                                dv=16, images=[[1, 4, 6], [1, 18, 2]], videos=[[3, 4, 4]]),
                           "vision only: 2 heads (hd 32), 16x16 pos table, down/up interpolation, "
                           "3-group video"),
    # Two images of different grids and a 3-group video (transformers >= 5.10 layout: outer
    # vision_start/vision_end kept), text before/between/after; untied head, a full-attention layer.
    "multimodal_2img_video_untied": (make_multimodal_case,
                                     dict(MM_BASE, tied=False, layers=4, hk=2, hv=4, dk=16, dv=32,
                                          images=[[1, 4, 6], [1, 8, 4]],
                                          videos=[[[3, 4, 4], [0, 12, 24, 36, 48, 60], 24.0]],
                                          layout=[9, "image", 7, "image", 5, "video", 11],
                                          wrapper="keep_outer", greedy=8),
                                     "2 images (4x6, 8x4) + 3-group video, keep_outer wrapper, "
                                     "untied, 8x8 pos table"),
    # Video first with 4 temporal groups (7 frames, the last repeated) in the pre-5.10 layout (no
    # outer wrapper), then an image upsampled past the 8x8 table in h; Hv/Hk = 3, explicit layer
    # types with two full-attention layers.
    "multimodal_video4_img_hv3": (make_multimodal_case,
                                  dict(MM_BASE, tied=False, hk=1, hv=3, dk=16, dv=8,
                                       layer_types=["linear_attention", "full_attention",
                                                    "linear_attention", "full_attention"],
                                       images=[[1, 10, 2]],
                                       videos=[[[4, 4, 4], [0, 10, 20, 30, 40, 50, 60], 30.0]],
                                       layout=[6, "video", 4, "image", 48],
                                       wrapper="replace_triple", greedy=8),
                                  "4-group video (7 frames padded to 8) + 10x2 image, "
                                  "replace_triple wrapper, Hv/Hk=3, explicit layer_types"),
    # One wide image, a prompt crossing the 64-token DeltaNet chunk, 6 layers (2 full), Hv/Hk = 2.
    "multimodal_image_long": (make_multimodal_case,
                              dict(MM_BASE, tied=False, hk=2, hv=4, dk=16, dv=16,
                                   layer_types=["linear_attention", "linear_attention",
                                                "full_attention", "linear_attention",
                                                "linear_attention", "full_attention"],
                                   images=[[1, 4, 12]], layout=[40, "image", 70], greedy=10),
                              "single 4x12 image (w upsampled), 124-token prompt, 6 layers"),
    # The real processor: prompt ids expanded by Qwen3VLProcessor (keeps the outer wrapper in
    # transformers >= 5.10) with a tokenizer-made timestamp per temporal group.
    "multimodal_expansion_processor": (make_expansion_case,
                                       dict(image_sizes=[[64, 96], [40, 40]],
                                            video_shape=[6, 64, 64], fps=2.0,
                                            frame_indices=[0, 3, 6, 9, 12, 15],
                                            prompt="<|im_start|>user\n<|vision_start|><|image_pad|>"
                                                   "<|vision_end|>Describe this and "
                                                   "<|vision_start|><|image_pad|><|vision_end|>, then "
                                                   "<|vision_start|><|video_pad|><|vision_end|>what "
                                                   "happens?<|im_end|>\n<|im_start|>assistant\n"),
                                       "real Qwen3VLProcessor expansion (small tokenizer)"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None, help="comma-separated case names")
    ap.add_argument("--seed-offset", type=int, default=0)
    ap.add_argument("--suffix", default="", help="appended to case names (for unseen cases)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    torch.use_deterministic_algorithms(True)
    import transformers
    log(f"torch {torch.__version__} transformers {transformers.__version__}")
    only = set(args.only.split(",")) if args.only else None
    os.makedirs(args.out, exist_ok=True)
    try:
        describe_api(build_model(dict(MM_BASE, tied=True, layers=1, hk=2, hv=2, dk=16, dv=16), 1))
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    failed = []
    for i, (name, (fn, spec, notes)) in enumerate(CASES.items()):
        if only and name not in only:
            continue
        seed = 3000 + 31 * i + args.seed_offset
        log(f"--- {name} (seed {seed})")
        try:
            fn(args.out, name + args.suffix, spec, seed, notes)
        except Exception:  # noqa: BLE001 - report and go on with the next case
            traceback.print_exc()
            failed.append(name)
    total = 0
    for dirpath, _, files in os.walk(args.out):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    log(f"wrote {total / 1e6:.2f} MB under {args.out}" + (" (over the 10 MB budget!)" if total > 10e6 else ""))
    if failed:
        log(f"FAILED cases: {', '.join(failed)}")
        return 1
    log("all cases written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
