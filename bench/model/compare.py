#!/usr/bin/env python3
"""Puts two benchmark reports side by side as markdown: ours (`qwen35 bench --json`) and Hugging
Face's (bench/model/hf_baseline.py --json), both in the schema of bench/model/README.md.

    python3 bench/model/compare.py --ours ours.json --hf hf.json

One table per section (prefill, decode, vision, memory) with both values and the ratio, read so
that above 1 means we are better: HF time / our time for latencies, our tok/s / HF tok/s for
throughput, HF GiB / our GiB for memory. Then the performance targets, met or missed. It reports
and never asserts: the exit status is 0 whatever the numbers (2 only for bad flags). Stdlib only.
"""
import argparse
import json
import sys

# (label, section, key field, key value, metric, "max" = at most / "min" = at least, threshold)
TARGETS = [
    ("batch-1 decode >= 130 tok/s", "decode", "batch", 1, "tok_s_total", "min", 130.0),
    ("batch-64 decode >= 6000 tok/s total", "decode", "batch", 64, "tok_s_total", "min", 6000.0),
    ("1024-token prefill <= 40 ms", "prefill", "tokens", 1024, "ms", "max", 40.0),
    ("vision 1024x1024 <= 15 ms", "vision", "side", 1024, "ms", "max", 15.0),
]

DASH = "—"


def load(path):
    """The report at `path`, or an empty one and a note saying why."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return {}, "cannot read %s: %s" % (path, e)
    if not isinstance(data, dict):
        return {}, "%s is not a JSON object" % path
    return data, None


def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def entries(report, section, key):
    """Entries of a section by their key value (tokens / batch / side), in file order."""
    out = {}
    rows = report.get(section)
    for e in rows if isinstance(rows, list) else []:
        if isinstance(e, dict) and number(e.get(key)):
            out[e[key]] = e
    return out


def fmt(v, digits):
    return ("%.*f" % (digits, v)) if number(v) else DASH


def cell(entry, metric, digits):
    """The text of one value: the number, the entry's error, or a dash when absent."""
    if entry is None:
        return DASH
    if entry.get("error"):
        return "OOM" if "out of memory" in str(entry["error"]) else "error: %s" % entry["error"]
    return fmt(entry.get(metric), digits)


def ratio(ours, hf, metric, higher_is_better):
    def value(e):
        if e is None or e.get("error"):
            return None
        v = e.get(metric)
        return v if number(v) and v > 0 else None
    a, b = value(ours), value(hf)
    if a is None or b is None:
        return DASH
    return "%.2fx" % (a / b if higher_is_better else b / a)


def table(title, note, header, rows):
    lines = ["## " + title, ""]
    if note:
        lines += [note, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines + [""]


def section_rows(ours, hf, section, key, metrics):
    """Rows for every key value either report has; metrics: (label format, metric, digits,
    higher_is_better)."""
    a, b = entries(ours, section, key), entries(hf, section, key)
    rows = []
    for k in sorted(set(a) | set(b)):
        for label, metric, digits, higher in metrics:
            rows.append([label.format(k=k, e=a.get(k) or b.get(k)),
                         cell(a.get(k), metric, digits), cell(b.get(k), metric, digits),
                         ratio(a.get(k), b.get(k), metric, higher)])
    return rows


def describe(report, name):
    if not report:
        return "%s: no report" % name
    parts = ["%s: %s on %s" % (name, report.get("tool", "?"), report.get("device", "?"))]
    versions = report.get("versions")
    if isinstance(versions, dict):
        shown = ", ".join("%s %s" % (k, "no" if v is None else v) for k, v in versions.items())
        parts.append("(%s)" % shown)
    text = " ".join(parts)
    if number(report.get("load_s")):
        text += ", load %.1f s" % report["load_s"]
    return text


def card(report):
    """The GPU's name: `qwen35 bench` follows it with " (device 0, sm_90, ...)", torch does not."""
    return str(report.get("device", "")).split(" (")[0].strip()


def settings_note(ours, hf, section, fields):
    """Flags decode settings that differ between the two reports (then ratios mislead)."""
    a, b = entries(ours, section, "batch"), entries(hf, section, "batch")
    notes = []
    for k in sorted(set(a) & set(b)):
        for f in fields:
            if a[k].get(f) != b[k].get(f):
                notes.append("batch %s: %s %s (ours) vs %s (HF)" % (k, f, a[k].get(f), b[k].get(f)))
    return ("**Settings differ:** " + "; ".join(notes)) if notes else ""


def render(ours, hf, notes=()):
    out = ["# Qwen3.5 benchmark: ours vs Hugging Face", ""]
    out += ["- " + n for n in notes]
    out += ["- " + describe(ours, "ours"), "- " + describe(hf, "HF")]
    if ours.get("device") and hf.get("device") and card(ours) != card(hf):
        out.append("- **Different devices**: the numbers are not comparable.")
    out.append("")

    out += table("Prefill (time to first token, one sequence)",
                 "speedup = HF ms / our ms", ["metric", "ours", "HF", "speedup"],
                 section_rows(ours, hf, "prefill", "tokens",
                              [("{k} tokens (ms)", "ms", 1, False)]))
    decode = entries(ours, "decode", "batch") or entries(hf, "decode", "batch")
    first = next(iter(decode.values()), {})
    out += table(
        "Decode (greedy, %s prompt tokens, %s new tokens per sequence)"
        % (first.get("prompt_tokens", "?"), first.get("new_tokens", "?")),
        " ".join(x for x in [
            "tok/s = batch x (new tokens - 1) / decode time; ratio = ours / HF for tok/s, "
            "HF / ours for times.",
            settings_note(ours, hf, "decode", ("prompt_tokens", "new_tokens"))] if x),
        ["metric", "ours", "HF", "ratio"],
        section_rows(ours, hf, "decode", "batch", [
            ("batch {k}: tok/s total", "tok_s_total", 1, True),
            ("batch {k}: tok/s per sequence", "tok_s_per_seq", 1, True),
            ("batch {k}: prefill of the batch (ms)", "prefill_ms", 1, False),
            ("batch {k}: decode time (ms)", "decode_ms", 1, False),
        ]))
    out += table("Vision encoder (one image, encoder alone)", "speedup = HF ms / our ms",
                 ["metric", "ours", "HF", "speedup"],
                 section_rows(ours, hf, "vision", "side", [
                     ("{k}x{k}, {e[patches]} patches -> {e[merged_tokens]} tokens (ms)", "ms", 2,
                      False)]))
    mem = [["peak over the run (GiB)", cell(ours, "peak_memory_gib", 1),
            cell(hf, "peak_memory_gib", 1), ratio(ours, hf, "peak_memory_gib", False)]]
    for key, label in (("text_peak_memory_gib", "text model"),
                       ("vision_peak_memory_gib", "vision encoder")):
        if number(ours.get(key)) or number(hf.get(key)):
            mem.append(["%s (GiB)" % label, fmt(ours.get(key), 1), fmt(hf.get(key), 1),
                        ratio(ours, hf, key, False)])
    a, b = entries(ours, "decode", "batch"), entries(hf, "decode", "batch")
    for k in sorted(set(a) | set(b)):
        pa = fmt((a.get(k) or {}).get("peak_memory_gib"), 1)
        pb = fmt((b.get(k) or {}).get("peak_memory_gib"), 1)
        if pa != DASH or pb != DASH:
            mem.append(["decode batch %s (GiB)" % k, pa, pb, DASH])
    out += table("Memory", "ratio = HF GiB / our GiB (ours allocates its caches up front, HF as it goes)",
                 ["metric", "ours", "HF", "ratio"], mem)

    rows = []
    for label, section, key, value, metric, kind, threshold in TARGETS:
        e = entries(ours, section, key).get(value)
        h = entries(hf, section, key).get(value)
        v = None if e is None or e.get("error") else e.get(metric)
        if not number(v):
            status = "not measured" if e is None else "missed (%s)" % cell(e, metric, 1)
        elif (v <= threshold) if kind == "max" else (v >= threshold):
            status = "met"
        else:
            status = "missed"
        rows.append([label, cell(e, metric, 1), cell(h, metric, 1), status])
    out += table("Targets", "", ["target", "ours", "HF", "status"], rows)
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Compare two Qwen3.5 benchmark reports (markdown).")
    ap.add_argument("--ours", required=True, help="qwen35 bench --json report")
    ap.add_argument("--hf", required=True, help="bench/model/hf_baseline.py --json report")
    args = ap.parse_args(argv)
    ours, note_a = load(args.ours)
    hf, note_b = load(args.hf)
    print(render(ours, hf, [n for n in (note_a, note_b) if n]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
