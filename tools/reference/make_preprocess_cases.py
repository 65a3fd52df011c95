#!/usr/bin/env python3
"""Generates Hugging Face pre-processing reference cases for qwen35-serve (shared/REFERENCE_CASES.md,
kinds `image_preprocess` and `video_preprocess`; MODEL.md section 6).

Every input is synthesised here (numpy, seeded), so the script needs no network, no model and no
video decoder. It runs HF's own processors:

  images: transformers.image_utils.load_image (PIL open -> ImageOps.exif_transpose -> convert("RGB"))
          then the image processor loaded from the case's preprocessor_config.json
          (Qwen2VLImageProcessorFast / torchvision backend, as shipped with Qwen3.5);
  videos: the frames are given to the video processor loaded from video_preprocessor_config.json
          (Qwen3VLVideoProcessor) as a uint8 (T, C, H, W) tensor with explicit VideoMetadata
          (total_num_frames, fps), do_sample_frames=True, so HF samples the frames itself; the same
          frames are stored losslessly in inputs.safetensors for the C++ pre-decoded-frames path.

Case folder layout:
  image_preprocess_<name>/  image.<ext>, preprocessor_config.json, expected.safetensors
                            (pixel_values f32 [P, 1536], image_grid_thw i64 [1, 3]), case.json
  video_preprocess_<name>/  inputs.safetensors (frames u8 [N, H, W, 3]), video_preprocessor_config.json,
                            expected.safetensors (pixel_values_videos f32 [P, 1536], video_grid_thw
                            i64 [1, 3], frame_indices i64 [n], timestamps f32 [n'/2]), case.json
                            (fps: the source fps or null, total_frames)

Some cases keep every shipped Qwen3.5 value except `size` (min/max pixels), which is lowered so the
expected fp32 pixel_values stay small (24 bytes per resized pixel; the shipped minimum of 65536 pixels
alone costs 1.5 MB a case); case.json says which.

The image_preprocess_odd_size folder also gets resize_sweep.safetensors: torchvision's uint8
BICUBIC antialias=True resize of one small image to many sizes, for a bit-exact test of the C++ resize.

Usage (offline, CPU only, about 15 s; exit status 1 if any case failed, failed cases are removed):
    python3 tools/reference/make_preprocess_cases.py --out /tmp/preprocess_cases [--only NAME]
    tar -C /tmp -czf preprocess_cases.tgz preprocess_cases      # then unpack into tests/reference/

Requires: numpy, torch, torchvision, transformers (5.x), Pillow, safetensors.
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys
import time
import traceback
import zlib

import numpy as np

SHIPPED_IMAGE_CONFIG = {
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "Qwen2VLImageProcessorFast",
    "image_std": [0.5, 0.5, 0.5],
    "merge_size": 2,
    "patch_size": 16,
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"longest_edge": 16777216, "shortest_edge": 65536},
    "temporal_patch_size": 2,
}

SHIPPED_VIDEO_CONFIG = {
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "do_sample_frames": True,
    "fps": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "max_frames": 768,
    "merge_size": 2,
    "min_frames": 4,
    "patch_size": 16,
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"longest_edge": 25165824, "shortest_edge": 4096},
    "temporal_patch_size": 2,
    "video_processor_type": "Qwen3VLVideoProcessor",
}


def log(msg):
    print(msg, flush=True)


# ----------------------------------------------------------------------------- synthetic content


def smooth_rgb(h, w, seed, noise=6):
    """Smooth colour pattern plus a little noise: uint8 [h, w, 3]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(xx / (3 + w / 7.0) + seed) * np.cos(yy / (3 + h / 5.0))
    g = 128 + 90 * np.sin((xx + 2 * yy) / (4 + (h + w) / 9.0))
    b = 128 + 110 * np.cos(np.hypot(xx - w / 3.0, yy - h / 2.0) / (2 + min(h, w) / 6.0))
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, noise, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def large_scene(h, w, seed):
    """A big image that still compresses well: flat rectangles, lines, discs, one gradient and one
    noise patch (sharp edges and fine detail for the antialiasing filter)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (40, 90, 160)
    for _ in range(60):
        y0, x0 = rng.integers(0, h - 20), rng.integers(0, w - 20)
        y1, x1 = min(h, y0 + rng.integers(20, 400)), min(w, x0 + rng.integers(20, 400))
        img[y0:y1, x0:x1] = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(12):
        cy, cx, rad = rng.integers(0, h), rng.integers(0, w), rng.integers(10, 150)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < rad * rad] = rng.integers(0, 256, 3)
    for k in range(0, w, 97):  # thin lines of 1-3 px
        img[:, k : k + 1 + (k % 3)] = (255, 255, 255)
    for k in range(0, h, 131):
        img[k : k + 2, :] = (0, 0, 0)
    gy, gx = np.mgrid[0:300, 0:300]
    img[100:400, 1500:1800, 0] = (gx * 255 // 299).astype(np.uint8)
    img[100:400, 1500:1800, 1] = (gy * 255 // 299).astype(np.uint8)
    img[100:400, 1500:1800, 2] = 128
    img[900:1028, 300:428] = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    img[1200:1232, 1000:1400:2] = (255, 0, 0)  # 1-px stripes
    return img


def png_rgb16(path, arr):
    """Writes a 16-bit RGB PNG (PIL cannot): arr uint16 [h, w, 3]."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


# ----------------------------------------------------------------------------- image cases


def img_tiny_upscale(d):
    from PIL import Image

    Image.fromarray(smooth_rgb(20, 30, 1)).save(os.path.join(d, "image.png"))
    return "image.png", "20x30 (HxW) RGB PNG, shipped config: smart_resize ceil branch (min_pixels) -> 224x320"


def img_large_downscale(d):
    from PIL import Image

    Image.fromarray(large_scene(1500, 2000, 2)).save(os.path.join(d, "image.png"), optimize=True)
    return "image.png", "1500x2000 RGB PNG downscaled ~7.8x (floor branch, wide antialias kernels)"


def img_odd_size(d):
    from PIL import Image

    Image.fromarray(smooth_rgb(333, 517, 3, noise=20)).save(os.path.join(d, "image.png"))
    return "image.png", "333x517 RGB PNG, floor branch"


def img_gray(d):
    from PIL import Image

    Image.fromarray(smooth_rgb(97, 61, 4)[..., 1]).save(os.path.join(d, "image.png"))  # mode L
    return "image.png", "97x61 8-bit grayscale PNG (mode L -> RGB replicates)"


def img_rgba(d):
    from PIL import Image

    rgb = smooth_rgb(90, 120, 5, noise=10)
    yy, xx = np.mgrid[0:90, 0:120]
    alpha = ((xx * 2 + yy) % 256).astype(np.uint8)  # varying, includes 0: alpha must be DROPPED
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(os.path.join(d, "image.png"))
    return "image.png", "90x120 RGBA PNG with varying alpha (convert('RGB') drops alpha, no compositing)"


def _exif_jpeg(d, orientation):
    from PIL import Image

    img = Image.fromarray(smooth_rgb(48, 80, 10 + orientation, noise=8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(os.path.join(d, "image.jpg"), "JPEG", quality=95, subsampling=0, exif=exif.tobytes())
    return "image.jpg", f"48x80 JPEG (4:4:4, q95) with EXIF orientation {orientation} (exif_transpose)"


def img_exif6(d):
    return _exif_jpeg(d, 6)


def img_exif7(d):
    return _exif_jpeg(d, 7)


def img_gray16(d):
    from PIL import Image

    rng = np.random.default_rng(8)
    arr = rng.integers(0, 300, (40, 44)).astype(np.uint16)  # ~15% above 255: PIL clips I;16 -> RGB
    arr[:10, :] = rng.integers(0, 65535, (10, 44)).astype(np.uint16)
    Image.fromarray(arr).save(os.path.join(d, "image.png"))  # mode I;16 -> 16-bit grey PNG
    return "image.png", "40x44 16-bit grayscale PNG (PIL mode I;16: convert('RGB') clips to 255)"


def img_rgb16(d):
    rng = np.random.default_rng(9)
    arr = (smooth_rgb(36, 52, 9).astype(np.uint16) * 257 + rng.integers(0, 257, (36, 52, 3))).astype(np.uint16)
    png_rgb16(os.path.join(d, "image.png"), arr)
    return "image.png", "36x52 16-bit RGB PNG (PIL keeps the high byte)"


def img_gif(d):
    from PIL import Image

    rng = np.random.default_rng(11)
    f0 = Image.fromarray(smooth_rgb(48, 64, 11, noise=3)).quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    f1 = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).quantize(colors=32)
    f0.save(os.path.join(d, "image.gif"), save_all=True, append_images=[f1], duration=100, loop=0)
    return "image.gif", "48x64 two-frame GIF (64-colour palette): the first frame is used"


def img_webp(d):
    from PIL import Image, features

    if not features.check("webp"):
        raise SkipCase("this Pillow has no WebP support")
    Image.fromarray(smooth_rgb(50, 70, 12, noise=10)).save(os.path.join(d, "image.webp"), "WEBP", lossless=True)
    return "image.webp", "50x70 lossless WebP"


def img_bmp(d):
    from PIL import Image

    Image.fromarray(smooth_rgb(45, 67, 13, noise=10)).save(os.path.join(d, "image.bmp"))
    return "image.bmp", "45x67 24-bit BMP"


SMALL = {"shortest_edge": 4096, "longest_edge": 65536}

IMAGE_CASES = [
    # name, maker, size override (None = shipped)
    ("tiny_upscale", img_tiny_upscale, None),
    ("large_downscale", img_large_downscale, {"shortest_edge": 4096, "longest_edge": 50000}),
    ("odd_size", img_odd_size, {"shortest_edge": 4096, "longest_edge": 40000}),
    ("gray", img_gray, SMALL),
    ("rgba", img_rgba, SMALL),
    ("exif_rot6", img_exif6, SMALL),
    ("exif_transverse7", img_exif7, SMALL),
    ("gray16", img_gray16, SMALL),
    ("rgb16", img_rgb16, SMALL),
    ("gif", img_gif, SMALL),
    ("webp", img_webp, SMALL),
    ("bmp", img_bmp, SMALL),
]

# ----------------------------------------------------------------------------- video cases


def moving_frames(n, h, w, seed):
    """n frames of a moving smooth pattern: uint8 [n, h, w, 3]; every frame differs."""
    frames = []
    for t in range(n):
        f = smooth_rgb(h, w, seed, noise=0).astype(np.int32)
        f = np.roll(f, shift=(t * 3) % w, axis=1) + (t * 7) % 40
        rng = np.random.default_rng(seed * 1000 + t)
        f = f + rng.integers(-5, 6, f.shape)
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames)


VIDEO_CASES = [
    # name, total frames, fps (None: unknown, HF assumes 24), height, width, size override, notes
    ("halfeven_small", 10, 4.0, 20, 50, None,
     "10 frames @4 fps -> n=5, linspace(0,9,5)=[0,2.25,4.5,6.75,9] rounds half-even to [0,2,4,7,9]; "
     "frames 20x50 < 32 px (the upscale-before-rounding trap), t_bar=round(2.5)*2=4, padded to 6 frames"),
    ("fps10", 36, 10.0, 54, 96, None,
     "36 frames @10 fps -> n=7 (17.5 rounds to 18), 54x96 -> 64x96 (height-only resize), padded to 8"),
    ("maxpix_nbeta", 10, 4.0, 48, 96, {"shortest_edge": 4096, "longest_edge": 20000},
     "longest_edge 20000 forces the floor branch; beta uses n=5 (not t_bar=4): 32x64 (t_bar would give 32x96)"),
    ("nofps", 50, None, 32, 32, None, "no fps metadata: HF assumes 24 -> n=4, indices [0,16,33,49]"),
]


class SkipCase(Exception):
    pass


# ----------------------------------------------------------------------------- HF glue


def versions():
    import PIL
    import torch
    import transformers

    out = {"transformers": transformers.__version__, "torch": torch.__version__, "Pillow": PIL.__version__,
           "numpy": np.__version__}
    try:
        import torchvision

        out["torchvision"] = torchvision.__version__
    except Exception:  # noqa: BLE001
        out["torchvision"] = None
    return out


def save_expected(path, tensors):
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path)


def smart_resize_image(h, w, factor, min_px, max_px):
    h_bar, w_bar = round(h / factor) * factor, round(w / factor) * factor
    if h_bar * w_bar > max_px:
        beta = math.sqrt(h * w / max_px)
        h_bar = max(factor, math.floor(h / beta / factor) * factor)
        w_bar = max(factor, math.floor(w / beta / factor) * factor)
    elif h_bar * w_bar < min_px:
        beta = math.sqrt(min_px / (h * w))
        h_bar, w_bar = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return h_bar, w_bar


def independent_image_check(pil_rgb, cfg, pixel_values):
    """Recomputes pixel_values with torchvision directly (MODEL.md 6.2) and returns the max |diff|
    against HF: a sanity check of the case, not of HF."""
    import torch
    from torchvision.transforms.v2 import functional as F
    from torchvision.transforms import InterpolationMode

    t = torch.from_numpy(np.asarray(pil_rgb).copy()).permute(2, 0, 1).contiguous()
    p, m, tp = cfg["patch_size"], cfg["merge_size"], cfg["temporal_patch_size"]
    h, w = smart_resize_image(t.shape[1], t.shape[2], p * m, cfg["size"]["shortest_edge"], cfg["size"]["longest_edge"])
    if (h, w) != tuple(t.shape[1:]):
        t = F.resize(t, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True)
    x = (t.float() - 127.5) / 127.5
    x = x.unsqueeze(0).repeat(tp, 1, 1, 1)  # [tp, C, H, W]
    gh, gw = h // p, w // p
    x = x.view(1, tp, 3, gh // m, m, p, gw // m, m, p).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    x = x.reshape(gh * gw, 3 * tp * p * p).numpy()
    if x.shape != pixel_values.shape:
        return float("inf")
    return float(np.abs(x - pixel_values).max())


def make_image_case(root, name, maker, size_override):
    from PIL import Image
    from transformers import AutoImageProcessor
    from transformers.image_utils import load_image

    d = os.path.join(root, f"image_preprocess_{name}")
    os.makedirs(d, exist_ok=True)
    file_name, notes = maker(d)
    cfg = json.loads(json.dumps(SHIPPED_IMAGE_CONFIG))
    if size_override is not None:
        cfg["size"] = dict(size_override)
    with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")

    proc = AutoImageProcessor.from_pretrained(d)
    image = load_image(os.path.join(d, file_name))  # PIL open + exif_transpose + convert("RGB")
    out = proc(images=image, return_tensors="pt")
    pv = out["pixel_values"].float().numpy().astype(np.float32)
    grid = out["image_grid_thw"].numpy().astype(np.int64).reshape(1, 3)
    if pv.ndim != 2 or pv.shape[1] != 3 * cfg["temporal_patch_size"] * cfg["patch_size"] ** 2:
        raise RuntimeError(f"unexpected pixel_values shape {pv.shape}")
    if pv.shape[0] != int(grid.prod()):
        raise RuntimeError(f"pixel_values rows {pv.shape[0]} != prod(grid) {grid.tolist()}")
    save_expected(os.path.join(d, "expected.safetensors"), {"pixel_values": pv, "image_grid_thw": grid})
    check = independent_image_check(image, cfg, pv)
    with Image.open(os.path.join(d, file_name)) as raw:
        source = {"mode": raw.mode, "size_wh": list(raw.size), "format": raw.format}
    case = {
        "kind": "image_preprocess",
        "image": file_name,
        "config": "preprocessor_config.json",
        "notes": notes,
        "config_size": "shipped" if size_override is None else "reduced (all other values shipped)",
        "source": source,
        "loaded_rgb_hw": [image.height, image.width],
        "processor_class": type(proc).__name__,
        "expected_grid_thw": grid.reshape(-1).tolist(),
        "independent_torchvision_max_abs_diff": check,
        "versions": versions(),
    }
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")
    return f"{type(proc).__name__} grid={grid.reshape(-1).tolist()} P={pv.shape[0]} self-check max|diff|={check:.3g}"


def make_video_case(root, name, total, fps, h, w, size_override, notes):
    import torch
    from transformers import AutoVideoProcessor

    d = os.path.join(root, f"video_preprocess_{name}")
    os.makedirs(d, exist_ok=True)
    cfg = json.loads(json.dumps(SHIPPED_VIDEO_CONFIG))
    if size_override is not None:
        cfg["size"] = dict(size_override)
    with open(os.path.join(d, "video_preprocessor_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    frames = moving_frames(total, h, w, seed=100 + total)
    save_expected(os.path.join(d, "inputs.safetensors"), {"frames": frames})

    proc = AutoVideoProcessor.from_pretrained(d)
    try:
        from transformers.video_utils import VideoMetadata

        def meta():
            return VideoMetadata(total_num_frames=total, fps=fps, width=w, height=h)
    except ImportError:

        def meta():
            return {"total_num_frames": total, "fps": fps, "width": w, "height": h}

    video = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()  # (T, C, H, W) uint8
    indices = np.asarray(proc.sample_frames(meta()), dtype=np.int64)
    kwargs = dict(videos=[video], video_metadata=[meta()], do_sample_frames=True, return_tensors="pt")
    try:
        out = proc(**kwargs, return_metadata=True)
    except TypeError:
        out = proc(**kwargs)
    pv = out["pixel_values_videos"].float().numpy().astype(np.float32)
    grid = out["video_grid_thw"].numpy().astype(np.int64).reshape(1, 3)
    returned_meta = out.get("video_metadata") if hasattr(out, "get") else None
    if returned_meta:
        m0 = returned_meta[0]
        got = getattr(m0, "frames_indices", None)
        if got is None and isinstance(m0, dict):
            got = m0.get("frames_indices")
        if got is not None and list(np.asarray(got).reshape(-1)) != list(indices):
            raise RuntimeError(f"sample_frames {indices.tolist()} != processor metadata {list(got)}")
    if pv.shape[0] != int(grid.prod()):
        raise RuntimeError(f"pixel_values_videos rows {pv.shape[0]} != prod(grid) {grid.tolist()}")
    # Timestamps exactly as Qwen3VLProcessor._calculate_timestamps(indices, fps, merge_size): pad the
    # indices to a multiple of merge_size with the last one, idx / fps, mean of each group's ends.
    used_fps = fps if fps is not None else 24
    merge = int(getattr(proc, "merge_size", 2))
    idx = indices.tolist()
    if len(idx) % merge:
        idx += [idx[-1]] * (merge - len(idx) % merge)
    ts = [i / used_fps for i in idx]
    ts = [(ts[i] + ts[i + merge - 1]) / 2 for i in range(0, len(ts), merge)]
    save_expected(os.path.join(d, "expected.safetensors"), {
        "pixel_values_videos": pv,
        "video_grid_thw": grid,
        "frame_indices": indices,
        "timestamps": np.asarray(ts, dtype=np.float32),
    })
    case = {
        "kind": "video_preprocess",
        "frames": "inputs.safetensors",
        "config": "video_preprocessor_config.json",
        "fps": fps,
        "total_frames": total,
        "frame_hw": [h, w],
        "notes": notes,
        "config_size": "shipped" if size_override is None else "reduced (all other values shipped)",
        "processor_class": type(proc).__name__,
        "expected_grid_thw": grid.reshape(-1).tolist(),
        "expected_frame_indices": indices.tolist(),
        "expected_timestamps": ts,
        "versions": versions(),
    }
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")
    return f"{type(proc).__name__} grid={grid.reshape(-1).tolist()} indices={indices.tolist()} ts={[round(t, 3) for t in ts]}"


RESIZE_SWEEP_SIZES = [(37, 53), (10, 10), (20, 70), (74, 106), (111, 31), (5, 200), (1, 1), (64, 48),
                      (36, 52), (38, 54), (200, 3), (16, 160), (73, 19), (2, 2), (148, 212), (37, 20)]


def add_resize_sweep(d):
    """resize_sweep.safetensors: a 37x53 uint8 source and torchvision's BICUBIC antialias=True resize
    of it to each size in `sizes` (up, down, mixed, identity, 1x1) — for a bit-exact test of the
    C++ resize (not part of the image_preprocess contract; case.json lists it under "extra")."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    rng = np.random.default_rng(77)
    src = smooth_rgb(37, 53, 77, noise=0)
    src[::5] = rng.integers(0, 256, src[::5].shape, dtype=np.uint8)  # hard edges: clamping, negative lobes
    src[:, 7] = 255
    src[:, 8] = 0
    t = torch.from_numpy(src).permute(2, 0, 1).contiguous()
    sizes = []
    tensors = {"source": src}
    for h, w in RESIZE_SWEEP_SIZES:
        try:
            r = F.resize(t, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True)
        except RuntimeError as e:  # e.g. torch 2.11's AVX path asserts on some 3-wide outputs
            log(f"       resize sweep: torchvision fails for {h}x{w}, size left out: {str(e).splitlines()[0]}")
            continue
        tensors[f"out_{len(sizes)}"] = r.permute(1, 2, 0).contiguous().numpy()
        sizes.append((h, w))
    tensors["sizes"] = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
    save_expected(os.path.join(d, "resize_sweep.safetensors"), tensors)
    with open(os.path.join(d, "case.json")) as f:
        case = json.load(f)
    case["extra"] = {"resize_sweep.safetensors": add_resize_sweep.__doc__.split("\n")[0] + " ..."}
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")
    return len(sizes)


def folder_bytes(path):
    return sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder to write the case folders into (created)")
    ap.add_argument("--only", default=None, help="generate only the case whose name contains this")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    t0 = time.time()
    try:
        v = versions()
    except Exception as e:  # noqa: BLE001
        log(f"FATAL: cannot import the reference stack: {e!r}")
        return 2
    log(f"versions: {json.dumps(v)}")
    failures, skipped, done = [], [], []
    jobs = [(f"image_preprocess_{n}", lambda n=n, m=m, s=s: make_image_case(args.out, n, m, s))
            for n, m, s in IMAGE_CASES]
    jobs += [(f"video_preprocess_{c[0]}", lambda c=c: make_video_case(args.out, *c)) for c in VIDEO_CASES]
    for name, job in jobs:
        if args.only and args.only not in name:
            continue
        t = time.time()
        try:
            summary = job()
            done.append(name)
            log(f"[ok]   {name} ({time.time() - t:.1f}s, {folder_bytes(os.path.join(args.out, name)) / 1e6:.2f} MB): {summary}")
        except SkipCase as e:
            skipped.append(name)
            shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)
            log(f"[skip] {name}: {e}")
        except Exception as e:  # noqa: BLE001 -- keep going, report at the end
            failures.append(name)
            shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)  # never leave a partial case
            log(f"[FAIL] {name}: {e!r}")
            traceback.print_exc()
    sweep_dir = os.path.join(args.out, "image_preprocess_odd_size")
    if "image_preprocess_odd_size" in done:
        try:
            log(f"[ok]   resize sweep: {add_resize_sweep(sweep_dir)} torchvision resizes in {sweep_dir}")
        except Exception as e:  # noqa: BLE001
            failures.append("resize_sweep")
            log(f"[FAIL] resize sweep: {e!r}")
            traceback.print_exc()
    total = sum(folder_bytes(os.path.join(args.out, n)) for n in done)
    log(f"\n{len(done)} cases written to {args.out} ({total / 1e6:.2f} MB) in {time.time() - t0:.1f}s; "
        f"{len(skipped)} skipped {skipped}; {len(failures)} failed {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
