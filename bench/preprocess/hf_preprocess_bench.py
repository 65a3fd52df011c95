#!/usr/bin/env python3
"""Times Hugging Face's Qwen3.5 pre-processing on the files preprocess_bench generates:

    build/bench/preprocess/preprocess_bench --out-dir /tmp/ppbench > /tmp/ours.txt
    python bench/preprocess/hf_preprocess_bench.py --dir /tmp/ppbench --ours /tmp/ours.txt

Needs torch, torchvision, transformers (5.x), pillow and a video decoder (torchcodec, transformers
5.x's default, needs FFmpeg's shared libraries; else torchvision's deprecated reader; --video-backend
pyav/opencv picks another). Not a project dependency: use a throwaway virtual environment.

Images: Qwen2VLImageProcessor (the torchvision backend, formerly Qwen2VLImageProcessorFast) with
the shipped Qwen3.5 config (MODEL.md §6.1); decode = transformers.image_utils.load_image (PIL open,
EXIF transpose, convert("RGB")), preprocess = processor(images=..., return_tensors="pt").
Video: Qwen3VLVideoProcessor (shortest_edge 4096, longest_edge 25165824, fps 2); decode =
load_video(path, backend, sample_indices_fn=processor.sample_frames) as fetch_videos does,
preprocess = processor(videos=frames, video_metadata=..., do_sample_frames=False), total =
processor(videos=path) (decodes with transformers' default backend).
Median wall and process-CPU ms over the runs; torch limited to --threads (default 1, like
preprocess_bench, which is single-threaded). With --ours, our table is printed beside.
"""
import argparse
import os
import statistics
import time
import warnings


def Time(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, 1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu)


class Stage:
    def __init__(self):
        self.wall, self.cpu = [], []

    def Add(self, w, c):
        self.wall.append(w)
        self.cpu.append(c)

    def Med(self):
        return statistics.median(self.wall), statistics.median(self.cpu)


HEADER = "%-22s %4s %9s %9s %9s %9s %9s %9s %-14s %7s %s" % (
    "input", "runs", "dec_wall", "dec_cpu", "pre_wall", "pre_cpu", "tot_wall", "tot_cpu",
    "grid_thw", "tokens", "resized")


def Row(name, runs, dec, pre, tot, grid, tokens, extra=""):
    vals = dec.Med() + pre.Med() + tot.Med()
    g = "(%d,%d,%d)" % tuple(grid)
    return "%-22s %4d %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %-14s %7d %s" % (
        (name, runs) + vals + (g, tokens, extra))


def ParseOurs(path):
    rows = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 9 and not line.startswith("#") and parts[0] != "input":
                rows[parts[0]] = [float(x) for x in parts[2:8]]
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="preprocess_bench --out-dir")
    ap.add_argument("--ours", help="preprocess_bench's output, printed side by side")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--video-runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--video-backend", default=None,
                    help="torchcodec / torchvision / pyav / opencv (default: as fetch_videos)")
    ap.add_argument("--skip-video", action="store_true")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    import transformers
    from transformers.image_utils import load_image
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor
    from transformers.video_utils import load_video

    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3,
                  image_std=[0.5] * 3, resample=3, do_rescale=True,
                  rescale_factor=0.00392156862745098, do_normalize=True, do_convert_rgb=True)
    iproc = Qwen2VLImageProcessor(size={"shortest_edge": 65536, "longest_edge": 16777216}, **common)
    vproc = Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 25165824}, fps=2,
                                  do_sample_frames=True, min_frames=4, max_frames=768, **common)
    backend = args.video_backend
    if backend is None:
        from transformers.utils.import_utils import is_torchcodec_usable
        backend = "torchcodec" if is_torchcodec_usable(decode="video") else "torchvision"
    print("# transformers %s, torch %s (threads %d), image processor %s, video %s, backend %s"
          % (transformers.__version__, torch.__version__, torch.get_num_threads(),
             type(iproc).__name__, type(vproc).__name__, backend))
    print("# median over runs; ms; cpu = process CPU time")
    print(HEADER)
    theirs = {}
    for size in (448, 1024, 2048):
        for ext in ("png", "jpg"):
            name = "image_%d.%s" % (size, ext)
            path = os.path.join(args.dir, name)
            dec, pre, tot = Stage(), Stage(), Stage()
            for _ in range(args.runs):
                img, w, c = Time(lambda: load_image(path))
                dec.Add(w, c)
                out, w, c = Time(lambda: iproc(images=img, return_tensors="pt"))
                pre.Add(w, c)
                out, w, c = Time(lambda: iproc(images=load_image(path), return_tensors="pt"))
                tot.Add(w, c)
            grid = out["image_grid_thw"][0].tolist()
            tokens = grid[0] * grid[1] * grid[2] // 4
            pv = out["pixel_values"]
            line = Row(name, args.runs, dec, pre, tot, grid, tokens,
                       "pixel_values %s" % list(pv.shape))
            theirs[name] = dec.Med() + pre.Med() + tot.Med()
            print(line, flush=True)
    if not args.skip_video:
        name = "video_720p_10s.avi"
        path = os.path.join(args.dir, name)
        dec, pre, tot = Stage(), Stage(), Stage()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(args.video_runs):
                (frames, meta), w, c = Time(
                    lambda: load_video(path, backend=backend, sample_indices_fn=vproc.sample_frames))
                dec.Add(w, c)
                out, w, c = Time(lambda: vproc(videos=[frames], video_metadata=[meta],
                                               do_sample_frames=False, return_tensors="pt"))
                pre.Add(w, c)
                if args.video_backend is None:
                    out2, w, c = Time(lambda: vproc(videos=path, return_tensors="pt"))
                else:
                    def Both():
                        f, m = load_video(path, backend=backend,
                                          sample_indices_fn=vproc.sample_frames)
                        return vproc(videos=[f], video_metadata=[m], do_sample_frames=False,
                                     return_tensors="pt")
                    out2, w, c = Time(Both)
                tot.Add(w, c)
        grid = out["video_grid_thw"][0].tolist()
        assert grid == out2["video_grid_thw"][0].tolist(), (grid, out2["video_grid_thw"])
        tokens = grid[0] * grid[1] * grid[2] // 4
        extra = "frames=%d src_frames=%d fps=%g" % (len(meta.frames_indices),
                                                   meta.total_num_frames, meta.fps)
        theirs[name] = dec.Med() + pre.Med() + tot.Med()
        print(Row(name, args.video_runs, dec, pre, tot, grid, tokens, extra), flush=True)

    if args.ours:
        ours = ParseOurs(args.ours)
        print("\n# ours vs HF, median process-CPU ms; speedup = HF total / ours total")
        print("%-22s %22s %22s %22s %8s" % ("input", "decode ours|HF", "preprocess ours|HF",
                                           "total ours|HF", "speedup"))
        for name, t in theirs.items():
            if name not in ours:
                continue
            o = ours[name]
            cells = []
            for k in range(3):
                cells.append("%.1f|%.1f" % (o[2 * k + 1], t[2 * k + 1]))
            print("%-22s %22s %22s %22s %7.2fx" % (name, cells[0], cells[1], cells[2],
                                                   t[5] / o[5] if o[5] else float("nan")))


if __name__ == "__main__":
    main()
