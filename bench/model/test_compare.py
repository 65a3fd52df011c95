"""compare.py on two hand-written reports (testdata/), and a syntax check of hf_baseline.py, which
needs torch and a GPU to run and so only runs on the GPU machine."""
import importlib.util
import pathlib
import py_compile

import pytest

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / "testdata"


def load_module(name):
    spec = importlib.util.spec_from_file_location(name, HERE / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = load_module("compare")


def run(capsys, ours, hf):
    rc = compare.main(["--ours", str(ours), "--hf", str(hf)])
    return rc, capsys.readouterr().out


def row(text, label):
    """The cells of the markdown table row whose first cell is `label`."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError("no row %r in:\n%s" % (label, text))


def test_tables_ratios_and_targets(capsys):
    rc, out = run(capsys, DATA / "ours.json", DATA / "hf.json")
    assert rc == 0
    # Latency: HF time / our time.
    assert row(out, "1024 tokens (ms)") == ["30.0", "120.0", "4.00x"]
    # HF ran out of memory: shown, no ratio.
    assert row(out, "8192 tokens (ms)") == ["250.0", "OOM", "—"]
    # Throughput: our tok/s / HF tok/s.
    assert row(out, "batch 1: tok/s total") == ["150.0", "18.2", "8.24x"]
    assert row(out, "batch 64: tok/s total") == ["5000.0", "OOM", "—"]
    # A batch only one side measured.
    assert row(out, "batch 8: tok/s total") == ["—", "140.0", "—"]
    assert row(out, "1024x1024, 4096 patches -> 1024 tokens (ms)") == ["20.00", "36.00", "1.80x"]
    assert row(out, "peak over the run (GiB)") == ["98.0", "139.0", "1.42x"]
    assert row(out, "batch-1 decode >= 130 tok/s")[-1] == "met"
    assert row(out, "batch-64 decode >= 6000 tok/s total")[-1] == "missed"
    assert row(out, "1024-token prefill <= 40 ms")[-1] == "met"
    assert row(out, "vision 1024x1024 <= 15 ms")[-1] == "missed"
    assert "Different devices" not in out
    assert "flash_linear_attention no" in out


def test_missing_sections_and_errors_still_exit_zero(capsys, tmp_path):
    ours = tmp_path / "ours.json"
    ours.write_text('{"tool": "qwen35", "device": "NVIDIA H100 80GB HBM3", '
                    '"decode": [{"batch": 1, "error": "out of memory"}]}')
    rc, out = run(capsys, ours, tmp_path / "absent.json")
    assert rc == 0
    assert "cannot read" in out and "absent.json" in out
    assert row(out, "batch-1 decode >= 130 tok/s")[-1] == "missed (OOM)"
    assert row(out, "1024-token prefill <= 40 ms")[-1] == "not measured"

    rc, out = run(capsys, ours, DATA / "hf.json")
    assert rc == 0
    assert "Different devices" in out


def test_hf_baseline_compiles_and_parses_its_flags(tmp_path):
    py_compile.compile(str(HERE / "hf_baseline.py"), cfile=str(tmp_path / "hf.pyc"),
                       doraise=True)
    hf = load_module("hf_baseline")  # torch is imported inside main(), not at import time
    args = hf.parse_args(["--model", "/m"])
    assert args.prompt_lens == [1024, 8192]
    assert args.batches == [1, 8, 32, 64]
    assert args.images == [448, 1024, 2048]
    assert (args.repeats, args.decode_prompt_len, args.new_tokens) == (3, 1024, 256)
    assert args.sections == ["prefill", "decode", "vision"]
    args = hf.parse_args(["--model", "/m", "--batches", "2,4", "--sections", "vision"])
    assert args.batches == [2, 4] and args.sections == ["vision"]
    for bad in (["--images", "100"], ["--batches", "0"], ["--sections", "train"],
                ["--new-tokens", "1"]):
        with pytest.raises(SystemExit):
            hf.parse_args(["--model", "/m"] + bad)
