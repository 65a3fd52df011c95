"""The kustomizations render, and the offline renderer renders them exactly as kustomize does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import kustomize_lite
from conftest import HERE, OVERLAYS, render

FIXTURES = HERE / "fixtures" / "kustomize"


def as_map(objects: list[dict]) -> dict:
    return {kustomize_lite.object_id(o): o for o in objects}


def assert_same(mine: list[dict], theirs: list[dict]) -> None:
    mine_map, theirs_map = as_map(mine), as_map(theirs)
    assert sorted(mine_map) == sorted(theirs_map)
    for key in mine_map:
        assert mine_map[key] == theirs_map[key], f"{key} differs"


def test_overlay_renders(overlay):
    objects = render(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy",
            "ServiceMonitor"} <= kinds
    assert len({kustomize_lite.object_id(o) for o in objects}) == len(objects)


@pytest.mark.parametrize("name", ["base", "overlay"])
def test_renderer_matches_recorded_kustomize_output(name):
    """fixtures/kustomize exercises every feature the renderer implements; expected/ is the output
    of `kubectl kustomize` (kustomize v5.5.0) for it."""
    expected = [d for d in yaml.safe_load_all((FIXTURES / "expected" / f"{name}.yaml").read_text()) if d]
    assert_same(kustomize_lite.build(FIXTURES / name), expected)


def kubectl_kustomize(directory: Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: compared with the recorded kustomize output only")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0 and "unknown command" in result.stderr:
        pytest.skip("this kubectl has no kustomize")
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.mark.parametrize("name", sorted(OVERLAYS) + ["fixture-base", "fixture-overlay"])
def test_renderer_matches_kubectl_kustomize(name):
    directory = FIXTURES / name.split("-", 1)[1] if name.startswith("fixture-") else OVERLAYS[name][0]
    assert_same(kustomize_lite.build(directory), kubectl_kustomize(directory))


def test_configmap_hash_matches_kustomize():
    # Values observed with kustomize v5.5.0 (the name does not enter kustomize's hash).
    assert kustomize_lite.configmap_hash({"data": {"A": "1"}}) == "89g4tffbfk"
    assert kustomize_lite.configmap_hash({"metadata": {"name": "x"}, "data": {"A": "1"}}) == "89g4tffbfk"


@pytest.mark.parametrize("field", ["commonLabels: {a: b}", "namePrefix: x-", "replicas: [{name: a, count: 2}]",
                                   "patchesStrategicMerge: [p.yaml]"])
def test_renderer_refuses_what_it_does_not_implement(tmp_path, field):
    (tmp_path / "kustomization.yaml").write_text(f"resources: []\n{field}\n")
    with pytest.raises(kustomize_lite.UnsupportedFeature):
        kustomize_lite.build(tmp_path)


def test_patch_without_target_is_an_error(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "patches:\n  - patch: |-\n      apiVersion: v1\n      kind: Service\n      metadata: {name: nope}\n")
    with pytest.raises(kustomize_lite.RenderError):
        kustomize_lite.build(tmp_path)


def test_generated_configmaps_are_hashed_and_referenced(overlay):
    objects = render(overlay)
    generated = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    assert all(len(name.rsplit("-", 1)[-1]) == 10 for name in generated), generated
    for w in (o for o in objects if o["kind"] == "Deployment"):
        spec = w["spec"]["template"]["spec"]
        refs = [s["configMapRef"]["name"] for c in spec["containers"] + spec.get("initContainers", [])
                for s in c.get("envFrom", [])]
        refs += [v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v]
        assert refs and set(refs) <= generated, (w["metadata"]["name"], refs)
