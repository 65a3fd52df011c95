#!/usr/bin/env python3
"""Hugging Face transformers baseline for the Qwen3.5 GPU benchmark (bench/model/README.md).

Runs on the GPU machine (torch 2.x with CUDA, transformers 5.x, no network) against a checkpoint
directory, normally the 9B-shaped random one from `qwen35 make-demo-checkpoint --preset 9b`:

    python3 bench/model/hf_baseline.py --model /tmp/qwen35-9b-random --json hf.json

Loads Qwen3_5ForConditionalGeneration in bf16 on one GPU (SDPA attention) and measures
  prefill  time to first token of one sequence per --prompt-lens length: forward over the prompt
           with a fresh cache + argmax of the last logits, CUDA synchronised; median of --repeats
           after one warm-up;
  decode   per --batches size: greedy generate() of exactly --new-tokens tokens for B random
           --decode-prompt-len prompts; the time to the first token is taken inside the same
           generate() call (see FirstTokenClock), decode = the rest (new_tokens - 1 steps);
  vision   the vision encoder alone (model.model.visual) on random pixel rows of one --images
           side x side image; median of --repeats after one warm-up;
and peak CUDA memory (torch.cuda.max_memory_allocated), per configuration and over the run.
An out-of-memory configuration is recorded as {"error": "out of memory"} and the run goes on;
any other failure of one configuration is recorded too (as "error"), the run goes on and the
exit status is 1.
The JSON report (same schema as `qwen35 bench --json`; bench/model/compare.py reads both) is
rewritten after every configuration, so a run cut short still leaves what it measured.
"""
import argparse
import gc
import importlib
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import traceback


def parse_int_list(text):
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers, got %r" % text)
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("expected positive integers, got %r" % text)
    return values


SECTIONS = ("prefill", "decode", "vision")


def parse_sections(text):
    sections = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError("unknown section(s) %s (known: %s)"
                                         % (", ".join(unknown), ", ".join(SECTIONS)))
    return sections


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="Hugging Face transformers baseline: prefill, decode and vision timings "
                    "of a Qwen3.5 checkpoint on one GPU, as JSON.")
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--json", help="write the report here (also printed at the end)")
    ap.add_argument("--prompt-lens", type=parse_int_list, default=[1024, 8192],
                    help="prefill prompt lengths (default 1024,8192)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed runs per prefill / vision configuration, after one warm-up "
                         "(default 3)")
    ap.add_argument("--batches", type=parse_int_list, default=[1, 8, 32, 64],
                    help="decode batch sizes (default 1,8,32,64)")
    ap.add_argument("--decode-prompt-len", type=int, default=1024,
                    help="prompt length of every decode sequence (default 1024)")
    ap.add_argument("--new-tokens", type=int, default=256,
                    help="tokens generated per decode sequence (default 256)")
    ap.add_argument("--images", type=parse_int_list, default=[448, 1024, 2048],
                    help="square image sides for the vision encoder, multiples of 32 "
                         "(default 448,1024,2048)")
    ap.add_argument("--sections", type=parse_sections, default=list(SECTIONS),
                    help="what to run (default prefill,decode,vision)")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (default sdpa)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random prompts and pixels")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    if args.new_tokens < 2:
        ap.error("--new-tokens must be at least 2 (decode time excludes the first token)")
    if args.decode_prompt_len < 1:
        ap.error("--decode-prompt-len must be positive")
    bad = [s for s in args.images if s % 32 != 0]
    if bad:
        ap.error("--images sides must be multiples of 32 (patch 16 x merge 2): %s" % bad)
    return args


def log(msg):
    print("[hf] " + msg, file=sys.stderr, flush=True)


def module_version(name):
    """The version of an importable module, "unknown" when it has none, None when absent."""
    if importlib.util.find_spec(name) is None:
        return None
    try:
        return str(getattr(importlib.import_module(name), "__version__", "unknown"))
    except Exception as e:  # importable on paper, broken in practice: say so
        return "import failed: %s" % type(e).__name__


class Report:
    """The JSON report, rewritten to --json after every configuration."""

    def __init__(self, path, data):
        self.path = path
        self.data = data

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.path)


def main(argv=None):
    args = parse_args(argv)
    import torch
    import transformers
    from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList
    from transformers import Qwen3_5ForConditionalGeneration

    if not torch.cuda.is_available():
        log("no CUDA device")
        return 2
    device = torch.device("cuda")
    gib = float(1 << 30)

    def is_oom(e):
        return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e)

    def release():
        gc.collect()
        torch.cuda.empty_cache()

    def peak_gib():
        return torch.cuda.max_memory_allocated() / gib

    fla = module_version("fla")
    conv = module_version("causal_conv1d")
    report = Report(args.json, {
        "tool": "hf-transformers",
        "device": torch.cuda.get_device_name(device),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "transformers": transformers.__version__,
            "flash_linear_attention": fla,
            "causal_conv1d": conv,
        },
        # Whether HF's fast kernels for the Gated DeltaNet could be used: without them it runs
        # its PyTorch fallbacks (chunked / recurrent delta rule, conv1d), the common case.
        "fast_path": {"flash_linear_attention": fla is not None, "causal_conv1d": conv is not None},
        "checkpoint": os.path.abspath(args.model),
        "settings": {
            "attn_implementation": args.attn,
            "repeats": args.repeats,
            "decode_prompt_len": args.decode_prompt_len,
            "new_tokens": args.new_tokens,
            "seed": args.seed,
        },
    })
    log("%s, torch %s, transformers %s, fla %s, causal_conv1d %s"
        % (report.data["device"], torch.__version__, transformers.__version__, fla, conv))

    # --- load -------------------------------------------------------------------------------
    t0 = time.perf_counter()
    kwargs = dict(dtype=torch.bfloat16, attn_implementation=args.attn)
    try:
        model = Qwen3_5ForConditionalGeneration.from_pretrained(args.model, device_map="cuda",
                                                                **kwargs)
    except (ImportError, ValueError) as e:
        # device_map needs accelerate in some transformers releases: load on the CPU and move.
        log("device_map load failed (%s); loading on the CPU, then moving to the GPU" % e)
        model = Qwen3_5ForConditionalGeneration.from_pretrained(args.model, **kwargs).to(device)
    model.eval()
    torch.cuda.synchronize()
    report.data["load_s"] = time.perf_counter() - t0
    report.data["settings"]["attn_implementation"] = model.config._attn_implementation
    text_config = model.config.text_config
    vocab = text_config.vocab_size
    log("loaded %s in %.1f s, %.2f GiB allocated"
        % (args.model, report.data["load_s"], torch.cuda.memory_allocated() / gib))
    overall_peak = peak_gib()
    report.data["peak_memory_gib"] = overall_peak
    report.save()

    # Greedy, no stop before --new-tokens: a fresh generation config instead of the checkpoint's
    # sampling one, keeping its eos / pad ids (min_new_tokens suppresses eos until the end).
    old = model.generation_config
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=old.eos_token_id, pad_token_id=old.pad_token_id,
        bos_token_id=old.bos_token_id)

    gen = torch.Generator(device="cpu").manual_seed(args.seed)

    def random_ids(batch, length):
        # Ordinary text tokens only: ids from 248044 up are special (eos, vision placeholders).
        high = min(vocab, 248000)
        return torch.randint(0, high, (batch, length), generator=gen).to(device)

    def timed(fn):
        torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        torch.cuda.synchronize()
        return result, 1000.0 * (time.perf_counter() - start)

    failures = []

    def measure(section, entry, label, body):
        """Runs one configuration: body(entry) fills in the timings. Out of memory is recorded
        and the run goes on, as does any other failure (recorded, the exit status then 1), so one
        bad configuration does not cost the others."""
        nonlocal overall_peak
        release()
        torch.cuda.reset_peak_memory_stats()
        try:
            body(entry)
        except Exception as e:
            if is_oom(e):
                entry["error"] = "out of memory"
                log("%s: out of memory" % label)
            else:
                entry["error"] = "%s: %s" % (type(e).__name__, str(e)[:300])
                failures.append(label)
                log("%s: FAILED\n%s" % (label, traceback.format_exc()))
        entry.setdefault("peak_memory_gib", peak_gib())
        release()
        overall_peak = max(overall_peak, peak_gib())
        report.data.setdefault(section, []).append(entry)
        report.data["peak_memory_gib"] = overall_peak
        report.save()

    # --- prefill ----------------------------------------------------------------------------
    def prefill(entry):
        ids = random_ids(1, entry["tokens"])
        mask = torch.ones_like(ids)

        def first_token():
            # A fresh cache each time, as a new request gets; argmax = the greedy token.
            with torch.inference_mode():
                out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
                return out.logits[:, -1].argmax(-1)

        timed(first_token)  # warm-up
        times = [timed(first_token)[1] for _ in range(args.repeats)]
        entry.update({"ms": statistics.median(times), "runs_ms": times,
                      "peak_memory_gib": peak_gib()})
        log("prefill %5d tokens: %8.1f ms (median of %d)" % (entry["tokens"], entry["ms"],
                                                              len(times)))

    if "prefill" in args.sections:
        report.data["prefill"] = []
        for tokens in args.prompt_lens:
            measure("prefill", {"tokens": tokens}, "prefill %d tokens" % tokens, prefill)

    # --- decode -----------------------------------------------------------------------------
    class FirstTokenClock(LogitsProcessor):
        """Notes when generate() first asks for logits processing, i.e. when the prefill forward
        of this very call has produced the first token's logits. Timing the prefill inside the
        generate() being measured (rather than in a separate forward) keeps its cache setup,
        mask creation and position handling, and splits the call's wall time exactly into
        time-to-first-token + decode. One synchronisation, on the first call only."""

        def __init__(self):
            self.first = None

        def __call__(self, input_ids, scores):
            if self.first is None:
                torch.cuda.synchronize()
                self.first = time.perf_counter()
            return scores

    def decode(entry):
        batch, prompt, new = entry["batch"], entry["prompt_tokens"], entry["new_tokens"]
        ids = random_ids(batch, prompt)
        mask = torch.ones_like(ids)

        def generate(n, clock=None):
            with torch.inference_mode():
                return model.generate(
                    input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                    do_sample=False, logits_processor=LogitsProcessorList([clock] if clock else []))

        generate(4)  # warm-up: kernels, allocator, the batch's shapes
        clock = FirstTokenClock()
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = generate(new, clock)
        torch.cuda.synchronize()
        end = time.perf_counter()
        if out.shape[1] - prompt != new:
            raise RuntimeError("generate() returned %d new tokens, expected %d"
                               % (out.shape[1] - prompt, new))
        decode_s = end - clock.first
        entry.update({
            "prefill_ms": 1000.0 * (clock.first - start),
            "decode_ms": 1000.0 * decode_s,
            "total_ms": 1000.0 * (end - start),
            "tok_s_total": batch * (new - 1) / decode_s,
            "tok_s_per_seq": (new - 1) / decode_s,
            "peak_memory_gib": peak_gib(),
        })
        log("decode batch %3d: prefill %8.1f ms, decode %9.1f ms, %8.1f tok/s total, "
            "%6.1f tok/s per sequence, peak %.1f GiB"
            % (batch, entry["prefill_ms"], entry["decode_ms"], entry["tok_s_total"],
               entry["tok_s_per_seq"], entry["peak_memory_gib"]))

    if "decode" in args.sections:
        report.data["decode"] = []
        for batch in args.batches:
            measure("decode", {"batch": batch, "prompt_tokens": args.decode_prompt_len,
                               "new_tokens": args.new_tokens}, "decode batch %d" % batch, decode)

    # --- vision -----------------------------------------------------------------------------
    vc = model.config.vision_config
    pixel_gen = torch.Generator(device="cpu").manual_seed(args.seed + 1)

    def vision(entry):
        grid = entry["side"] // vc.patch_size
        row = vc.in_channels * vc.temporal_patch_size * vc.patch_size * vc.patch_size  # 1536
        # Normalised pixels are roughly unit-scale, as the processor's output is.
        pixels = torch.randn(entry["patches"], row, generator=pixel_gen).to(device, torch.bfloat16)
        grid_thw = torch.tensor([[1, grid, grid]], device=device)

        def encode():
            with torch.inference_mode():
                return model.model.visual(pixels, grid_thw=grid_thw)

        out, _ = timed(encode)  # warm-up
        # The merged tokens: pooler_output in transformers 5.x, the plain return before.
        merged = out if isinstance(out, torch.Tensor) else out.pooler_output
        if merged.shape[0] != entry["merged_tokens"]:
            raise RuntimeError("encoder returned %d tokens, expected %d"
                               % (merged.shape[0], entry["merged_tokens"]))
        out = merged = None
        times = [timed(encode)[1] for _ in range(args.repeats)]
        entry.update({"ms": statistics.median(times), "runs_ms": times,
                      "peak_memory_gib": peak_gib()})
        log("vision %4dx%-4d (%5d patches, %4d tokens): %8.2f ms"
            % (entry["side"], entry["side"], entry["patches"], entry["merged_tokens"],
               entry["ms"]))

    if "vision" in args.sections:
        report.data["vision"] = []
        merge = vc.spatial_merge_size
        for side in args.images:
            patches = (side // vc.patch_size) ** 2
            measure("vision", {"side": side, "patches": patches,
                               "merged_tokens": patches // (merge * merge)},
                    "vision %dx%d" % (side, side), vision)

    report.data["peak_memory_gib"] = overall_peak
    if failures:
        report.data["failures"] = failures
    report.save()
    print(json.dumps(report.data, indent=2))
    if failures:
        log("failed: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
