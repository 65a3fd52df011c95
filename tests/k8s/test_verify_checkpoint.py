"""The initContainer's checkpoint check (k8s/base/scripts/verify-checkpoint.sh), run with the
system's /bin/sh (dash on Debian: POSIX only) on checkpoints made here."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import K8S, render

SCRIPT = K8S / "base" / "scripts" / "verify-checkpoint.sh"


def write_safetensors(path: Path, tensors: dict[str, int]) -> None:
    """A valid safetensors file with fp32 vectors of the given lengths (zeros)."""
    header, offset = {}, 0
    for name, n in tensors.items():
        header[name] = {"dtype": "F32", "shape": [n], "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * offset)


def make_checkpoint(root: Path, sharded: bool = True) -> Path:
    ckpt = root / "Qwen3.5-test"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"model_type": "qwen3_5"}')
    (ckpt / "tokenizer.json").write_text('{"model": {}}')
    (ckpt / "chat_template.jinja").write_text("{{ messages }}")
    if sharded:
        write_safetensors(ckpt / "model-00001-of-00002.safetensors", {"a": 4})
        write_safetensors(ckpt / "model-00002-of-00002.safetensors", {"b": 2})
        (ckpt / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 24}, "weight_map": {
            "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    else:
        write_safetensors(ckpt / "model.safetensors", {"a": 4})
    return ckpt


def write_sums(ckpt: Path) -> None:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in sorted(ckpt.iterdir())
             if p.name != "SHA256SUMS"]
    (ckpt / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def verify(mode: str, ckpt: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(SCRIPT), mode, str(ckpt)], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", **env})


@pytest.mark.parametrize("sharded", [True, False])
@pytest.mark.parametrize("mode", ["text", "vision", "gateway"])
def test_complete_checkpoint_passes(tmp_path, mode, sharded):
    result = verify(mode, make_checkpoint(tmp_path, sharded))
    assert result.returncode == 0, result.stderr
    assert "looks complete" in result.stdout


def test_missing_shard_fails(tmp_path):
    ckpt = make_checkpoint(tmp_path)
    (ckpt / "model-00002-of-00002.safetensors").unlink()
    result = verify("text", ckpt)
    assert result.returncode != 0 and "model-00002-of-00002.safetensors" in result.stderr


def test_truncated_shard_fails(tmp_path):
    ckpt = make_checkpoint(tmp_path)
    shard = ckpt / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:20])
    result = verify("vision", ckpt)
    assert result.returncode != 0 and "header length" in result.stderr


def test_not_safetensors_fails(tmp_path):
    ckpt = make_checkpoint(tmp_path, sharded=False)
    (ckpt / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"[]" + b"\0" * 8)
    result = verify("text", ckpt)
    assert result.returncode != 0 and "not a JSON object" in result.stderr


@pytest.mark.parametrize("name", ["config.json"])
def test_missing_config_fails(tmp_path, name):
    ckpt = make_checkpoint(tmp_path)
    (ckpt / name).unlink()
    assert verify("text", ckpt).returncode != 0


def test_no_weights_fails(tmp_path):
    ckpt = make_checkpoint(tmp_path, sharded=False)
    (ckpt / "model.safetensors").unlink()
    assert "no model.safetensors" in verify("text", ckpt).stderr


def test_gateway_needs_tokenizer_and_template(tmp_path):
    ckpt = make_checkpoint(tmp_path)
    (ckpt / "chat_template.jinja").unlink()
    result = verify("gateway", ckpt)
    assert result.returncode != 0 and "chat_template.jinja" in result.stderr
    assert verify("text", ckpt).returncode == 0


def test_shard_outside_the_checkpoint_is_refused(tmp_path):
    ckpt = make_checkpoint(tmp_path)
    write_safetensors(tmp_path / "outside.safetensors", {"x": 1})
    (ckpt / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x": "../outside.safetensors"}}))
    assert "outside" in verify("text", ckpt).stderr


def test_checksums_are_verified(tmp_path):
    ckpt = make_checkpoint(tmp_path)
    write_sums(ckpt)
    assert verify("text", ckpt).returncode == 0
    assert verify("gateway", ckpt).returncode == 0
    shard = ckpt / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-1] + b"\1")
    result = verify("text", ckpt)
    assert result.returncode != 0 and "checksum mismatch" in result.stderr
    # The gateway hashes only what it reads; VERIFY_SHA256=false skips the hashing.
    assert verify("gateway", ckpt).returncode == 0
    assert verify("text", ckpt, VERIFY_SHA256="false").returncode == 0


def test_checksum_manifest_must_cover_the_weights(tmp_path):
    ckpt = make_checkpoint(tmp_path)
    write_sums(ckpt)
    lines = (ckpt / "SHA256SUMS").read_text().splitlines()
    (ckpt / "SHA256SUMS").write_text("\n".join(l for l in lines if "00001" not in l) + "\n")
    assert "no line for model-00001" in verify("text", ckpt).stderr


def test_bad_usage(tmp_path):
    ckpt = make_checkpoint(tmp_path)
    assert "unknown mode" in verify("audio", ckpt).stderr
    assert "not a directory" in verify("text", tmp_path / "nope").stderr


def test_the_pods_run_this_script():
    """The ConfigMap the initContainers mount carries this very file."""
    objects = render("base")
    (cm,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(
        "qwen35-verify-checkpoint-")]
    assert cm["data"]["verify-checkpoint.sh"] == SCRIPT.read_text()
