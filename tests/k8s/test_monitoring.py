"""The autoscaling metrics exist end to end: the services export them (source), the
prometheus-adapter rules publish them under the names the HPAs use, and the KEDA queries name
real metrics and Services."""

from __future__ import annotations

import re

import pytest
import yaml

import policy
from conftest import K8S, REPO, render

ADAPTER_VALUES = K8S / "monitoring" / "prometheus-adapter-values.yaml"
# The gauges of the service contract, and the source that registers each tier's metrics.
CONTRACT_METRICS = {
    "qwen35_text_num_requests_running": "text_service/server/text_metrics.cc",
    "qwen35_text_num_requests_waiting": "text_service/server/text_metrics.cc",
    "qwen35_text_state_slot_usage": "text_service/server/text_metrics.cc",
    "qwen35_vision_num_requests_running": "vision_service/server",
    "qwen35_vision_num_requests_waiting": "vision_service/server",
}
TIER_PREFIXES = ("qwen35_text_", "qwen35_vision_")


def adapter_rules() -> list[dict]:
    return yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]


def published_name(rule: dict) -> str:
    (series,) = re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{", rule["seriesQuery"])
    matches, as_ = rule["name"]["matches"], rule["name"].get("as", "$0")
    return re.sub(matches, as_.replace("${", "\\g<").replace("}", ">").replace("$0", "\\g<0>"), series)


@pytest.mark.parametrize("metric", sorted(CONTRACT_METRICS))
def test_services_export_the_contract_metrics(metric):
    source = REPO / CONTRACT_METRICS[metric]
    if not source.exists():
        pytest.skip(f"{source.relative_to(REPO)} is not written yet")
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.suffix in (".cc", ".h"))
    texts = [f.read_text(errors="replace") for f in files]
    # The full name as a literal, or a tier prefix and the rest of the name in the same file.
    prefix = next(p for p in TIER_PREFIXES if metric.startswith(p))
    found = any(f'"{metric}"' in t or (prefix in t and f'"{metric[len(prefix):]}"' in t) for t in texts)
    assert found, f"{metric} is not registered in {source.relative_to(REPO)}"


def test_adapter_rules_are_well_formed():
    values = yaml.safe_load(ADAPTER_VALUES.read_text())
    assert values["rules"]["default"] is False
    assert values["prometheus"]["url"].startswith("http")
    for rule in adapter_rules():
        assert published_name(rule) in CONTRACT_METRICS
        assert 'namespace!=""' in rule["seriesQuery"] and 'pod!=""' in rule["seriesQuery"]
        overrides = rule["resources"]["overrides"]
        assert overrides["namespace"]["resource"] == "namespace" and overrides["pod"]["resource"] == "pod"
        for placeholder in ("<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"):
            assert placeholder in rule["metricsQuery"]


@pytest.mark.parametrize("overlay_name", ["prod"])
def test_every_hpa_metric_is_published_by_the_adapter(overlay_name):
    published = {published_name(r) for r in adapter_rules()}
    used = set()
    for o in render(overlay_name):
        if o["kind"] == "HorizontalPodAutoscaler":
            for m in o["spec"]["metrics"]:
                assert m["type"] in ("Pods", "Resource"), "Pods metrics (custom API) or CPU"
                if m["type"] == "Pods":
                    used.add(m["pods"]["metric"]["name"])
    assert used and used <= published, used - published


def test_keda_queries_use_contract_metrics_and_services():
    objects = render("prod-keda")
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    scaled = [o for o in objects if o["kind"] == "ScaledObject"]
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled} == {"qwen35-text", "qwen35-vision"}
    for s in scaled:
        for t in s["spec"]["triggers"]:
            query = t["metadata"]["query"]
            assert set(re.findall(r"qwen35_[a-z_]+", query)) <= set(CONTRACT_METRICS), query
            assert set(re.findall(r'service="([^"]+)"', query)) <= services, query
            assert query.startswith("sum("), "a sum over the pods gives per-pod AverageValue targets"
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"
                and o["spec"]["scaleTargetRef"]["name"] in ("qwen35-text", "qwen35-vision")]


def test_scrape_targets_carry_pod_labels():
    """prometheus-adapter maps the namespace/pod labels that ServiceMonitor targets get: each tier's
    ServiceMonitor must select a Service whose endpoints are the pods (not a pod-less Service)."""
    objects = render("prod")
    assert not policy.check_services(objects)
