"""Shared fixtures of the Kubernetes/Dockerfile tests (run from CTest: see CMakeLists.txt)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
K8S = REPO / "k8s"
sys.path.insert(0, str(HERE))

import kustomize_lite  # noqa: E402

# Each overlay, and whether prod-style autoscaling is required there.
OVERLAYS = {
    "base": (K8S / "base", False),
    "dev": (K8S / "overlays" / "dev", False),
    "prod": (K8S / "overlays" / "prod", True),
    "prod-keda": (K8S / "overlays" / "prod-keda", True),
}

_renders: dict[str, list[dict]] = {}


def render(name: str) -> list[dict]:
    """The objects of an overlay (rendered once per session; callers get a deep copy)."""
    if name not in _renders:
        _renders[name] = kustomize_lite.build(OVERLAYS[name][0])
    return copy.deepcopy(_renders[name])


@pytest.fixture(params=sorted(OVERLAYS))
def overlay(request) -> str:
    return request.param
