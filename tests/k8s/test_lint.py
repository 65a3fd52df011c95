"""yamllint (strict, k8s/.yamllint.yaml) on every YAML file of k8s/ and of these tests, and
shellcheck on the scripts that run in the images and initContainers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HERE, K8S

CONFIG = K8S / ".yamllint.yaml"
# Recorded `kubectl kustomize` output, kept byte for byte as kustomize wrote it.
GENERATED = HERE / "fixtures" / "kustomize" / "expected"
SCRIPTS = [(K8S / "base" / "scripts" / "verify-checkpoint.sh", "sh"), (K8S / "images" / "runtime-deps.sh", "bash")]


def yaml_files() -> list[Path]:
    files = [p for root in (K8S, HERE) for p in root.rglob("*") if p.suffix in (".yaml", ".yml")]
    return sorted(p for p in files if GENERATED not in p.parents)


def yamllint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yamllint", "--strict", "-f", "parsable", "-c", str(CONFIG),
                           *args], capture_output=True, text=True, timeout=120)


def test_yamllint_clean():
    files = yaml_files()
    assert len(files) > 10
    result = yamllint(*map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_catches_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: yes\nb:  1\nc: 1\nc: 2\n")
    result = yamllint(str(bad))
    assert result.returncode != 0
    for rule in ("truthy", "colons", "key-duplicates"):
        assert rule in result.stdout


@pytest.mark.parametrize("script,shell", SCRIPTS, ids=[s.name for s, _ in SCRIPTS])
def test_shellcheck(script, shell):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (scripts/setup.sh installs it)")
    result = subprocess.run(["shellcheck", "-s", shell, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
