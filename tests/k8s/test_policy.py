"""Deployment rules on every rendered overlay (policy.py), and proof that each rule bites: every
mutation below breaks one rule on a correct render, and the checks must report it."""

from __future__ import annotations

import pytest

import policy
from conftest import OVERLAYS, render


def test_policy_holds(overlay):
    violations = policy.check_all(render(overlay), OVERLAYS[overlay][1])
    assert not violations, "\n".join(violations)


def workload(objects, tier):
    return policy.find_workload(objects, tier)


def pod(objects, tier):
    return workload(objects, tier)["spec"]["template"]["spec"]


def main(objects, tier):
    return pod(objects, tier)["containers"][0]


def configmap(objects, prefix):
    return next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(prefix))


def remove(objects, kind, name):
    objects[:] = [o for o in objects if not (o["kind"] == kind and o["metadata"]["name"] == name)]


def set_replicas(objects, tier):
    workload(objects, tier)["spec"]["replicas"] = 3


MUTATIONS = {
    "no-readiness-probe": ("probes", lambda o: main(o, "qwen35-text").pop("readinessProbe")),
    "http-liveness-probe": ("probes", lambda o: main(o, "qwen35-vision").__setitem__(
        "livenessProbe", {"httpGet": {"path": "/", "port": 9091}})),
    "readiness-on-liveness-service": ("probes", lambda o: main(o, "qwen35-text")["readinessProbe"]["grpc"]
                                      .__setitem__("service", "")),
    "probe-wrong-port": ("probes", lambda o: main(o, "qwen35-gateway")["startupProbe"]["grpc"]
                         .__setitem__("port", 9090)),
    "short-startup-probe": ("probes", lambda o: main(o, "qwen35-text")["startupProbe"]
                            .__setitem__("failureThreshold", 30)),
    "no-memory-limit": ("resources", lambda o: main(o, "qwen35-text")["resources"]["limits"].pop("memory")),
    "init-without-requests": ("resources", lambda o: pod(o, "qwen35-gateway")["initContainers"][0]
                              .pop("resources")),
    "request-above-limit": ("resources", lambda o: main(o, "qwen35-vision")["resources"]["requests"]
                            .__setitem__("cpu", "64")),
    "no-gpu": ("resources", lambda o: main(o, "qwen35-vision")["resources"]["limits"].pop("nvidia.com/gpu")),
    "no-gpu-toleration": ("resources", lambda o: pod(o, "qwen35-text").pop("tolerations")),
    "root-user": ("security", lambda o: pod(o, "qwen35-text")["securityContext"].__setitem__("runAsUser", 0)),
    "no-run-as-non-root": ("security", lambda o: [c["securityContext"].pop("runAsNonRoot") for c in
                                                  policy.all_containers(pod(o, "qwen35-gateway"))]
                           and pod(o, "qwen35-gateway")["securityContext"].pop("runAsNonRoot")),
    "writable-root-fs": ("security", lambda o: main(o, "qwen35-vision")["securityContext"]
                         .__setitem__("readOnlyRootFilesystem", False)),
    "capability-kept": ("security", lambda o: main(o, "qwen35-text")["securityContext"]["capabilities"]
                        .__setitem__("drop", ["NET_RAW"])),
    "no-seccomp": ("security", lambda o: pod(o, "qwen35-text")["securityContext"].pop("seccompProfile")),
    "no-pdb": ("pdb", lambda o: remove(o, "PodDisruptionBudget", "qwen35-vision")),
    "pdb-selects-other-pods": ("pdb", lambda o: next(p for p in o if p["kind"] == "PodDisruptionBudget"
                                                     and p["metadata"]["name"] == "qwen35-text")
                               ["spec"]["selector"]["matchLabels"].__setitem__("app.kubernetes.io/name", "x")),
    "pdb-blocks-drains": ("pdb", lambda o: next(p for p in o if p["kind"] == "PodDisruptionBudget"
                                                and p["metadata"]["name"] == "qwen35-text")
                          ["spec"].__setitem__("maxUnavailable", 0)),
    "no-spreading": ("spread", lambda o: pod(o, "qwen35-text").pop("topologySpreadConstraints")),
    "grace-below-drain": ("drain", lambda o: pod(o, "qwen35-text").__setitem__("terminationGracePeriodSeconds", 300)),
    "drain-timeout-raised": ("drain", lambda o: configmap(o, "qwen35-gateway-flags")["data"]
                             .__setitem__("DRAIN_TIMEOUT_S", "900")),
    "flag-without-configmap-key": ("drain", lambda o: configmap(o, "qwen35-text-flags")["data"].pop("MAX_RUNNING")),
    "no-pre-stop": ("drain", lambda o: main(o, "qwen35-vision").pop("lifecycle")),
    "threads-above-cpu-limit": ("drain", lambda o: configmap(o, "qwen35-text-flags")["data"]
                                .__setitem__("THREADS", "64")),
    "writable-weights-mount": ("weights", lambda o: main(o, "qwen35-text")["volumeMounts"][0]
                               .__setitem__("readOnly", False)),
    "writable-weights-volume": ("weights", lambda o: pod(o, "qwen35-vision")["volumes"][0]["persistentVolumeClaim"]
                                .pop("readOnly")),
    "no-checkpoint-verification": ("weights", lambda o: pod(o, "qwen35-text").pop("initContainers")),
    "latest-image": ("images", lambda o: main(o, "qwen35-gateway").__setitem__("image", "qwen35/gateway:latest")),
    "untagged-image": ("images", lambda o: main(o, "qwen35-gateway").__setitem__("image", "qwen35/gateway")),
    "backend-not-headless": ("services", lambda o: next(s for s in o if s["kind"] == "Service" and s["metadata"]
                                                        ["name"] == "text-headless")["spec"].pop("clusterIP")),
    "headless-publishes-not-ready": ("services", lambda o: next(
        s for s in o if s["kind"] == "Service" and s["metadata"]["name"] == "vision-headless")["spec"]
        .__setitem__("publishNotReadyAddresses", True)),
    "gateway-target-wrong-namespace": ("services", lambda o: configmap(o, "qwen35-gateway-flags")["data"]
                                       .__setitem__("TEXT_TARGETS", "dns:///text-headless.default.svc.cluster"
                                                    ".local:50052")),
    "gateway-target-not-dns": ("services", lambda o: configmap(o, "qwen35-gateway-flags")["data"]
                               .__setitem__("VISION_TARGETS", "vision-headless:50051")),
    "no-service-monitor": ("services", lambda o: remove(o, "ServiceMonitor", "qwen35-vision")),
    "object-without-namespace": ("namespace", lambda o: next(x for x in o if x["kind"] == "NetworkPolicy")
                                 ["metadata"].pop("namespace")),
    "no-text-network-policy": ("netpol", lambda o: remove(o, "NetworkPolicy", "qwen35-text-ingress")),
    "text-open-to-all-pods": ("netpol", lambda o: next(p for p in o if p["metadata"]["name"] == "qwen35-text-ingress")
                              ["spec"]["ingress"][0]["from"][0].__setitem__("podSelector", {})),
    "vision-open-to-namespace": ("netpol", lambda o: next(
        p for p in o if p["metadata"]["name"] == "qwen35-vision-ingress")["spec"]["ingress"][0]["from"].append(
        {"namespaceSelector": {}})),
    "text-rule-without-ports": ("netpol", lambda o: next(
        p for p in o if p["metadata"]["name"] == "qwen35-text-ingress")["spec"]["ingress"][0].pop("ports")),
    "text-open-to-everyone": ("netpol", lambda o: next(
        p for p in o if p["metadata"]["name"] == "qwen35-text-ingress")["spec"]["ingress"].append(
        {"ports": [{"port": 50052}]})),
    "prometheus-reaches-grpc": ("netpol", lambda o: next(
        p for p in o if p["metadata"]["name"] == "qwen35-vision-ingress")["spec"]["ingress"][1]["ports"].append(
        {"port": 50051})),
    "no-text-autoscaler": ("autoscaling", lambda o: remove(o, "HorizontalPodAutoscaler", "qwen35-text")),
    "vision-scaled-on-cpu-only": ("autoscaling", lambda o: next(
        h for h in o if h["kind"] == "HorizontalPodAutoscaler" and h["metadata"]["name"] == "qwen35-vision")
        ["spec"].__setitem__("metrics", [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}])),
    "replicas-fight-the-hpa": ("autoscaling", lambda o: set_replicas(o, "qwen35-text")),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_policy_catches(mutation):
    rule, mutate = MUTATIONS[mutation]
    objects = render("prod")
    assert not policy.check_all(objects, True)
    mutate(objects)
    violations = policy.check_all(objects, True)
    assert any(v.startswith(rule + ":") for v in violations), (mutation, violations)


def test_keda_queries_follow_the_namespace():
    objects = render("prod-keda")
    for o in objects:
        o["metadata"]["namespace"] = "elsewhere" if "namespace" in o["metadata"] else None
    assert any("does not select namespace elsewhere" in v for v in policy.check_autoscaling(objects, True))


def test_double_autoscaling_is_caught():
    objects = render("prod-keda")
    objects.append(next(o for o in render("prod") if o["kind"] == "HorizontalPodAutoscaler"
                        and o["metadata"]["name"] == "qwen35-text"))
    assert any("scaled by 2 autoscalers" in v for v in policy.check_autoscaling(objects, True))


def test_dev_is_single_replica_without_autoscalers():
    objects = render("dev")
    assert not policy.autoscalers(objects)
    assert all(w["spec"]["replicas"] == 1 for w in policy.workloads(objects))


def test_prod_runs_several_replicas():
    objects = render("prod")
    for tier in policy.TIERS:
        w = policy.find_workload(objects, tier)
        (scaler,) = policy.autoscalers(objects)[w["metadata"]["name"]]
        assert scaler["spec"]["minReplicas"] >= 2
