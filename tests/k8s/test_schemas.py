"""Every rendered object validates offline: built-in kinds against the Kubernetes OpenAPI schemas
bundled with kubernetes-validate (strict: unknown fields are errors), CRDs against the minimal
schemas in schemas/."""

from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import HERE, K8S, render

# The oldest Kubernetes the manifests support (native gRPC probes GA 1.27, preStop sleep on by
# default since 1.30, PDB unhealthyPodEvictionPolicy GA 1.31) and the newest the package knows.
K8S_VERSIONS = ["1.32.0", "1.37.0"]
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring.coreos.com-v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda.sh-v1alpha1.json",
}
STANDALONE_MANIFESTS = sorted((K8S / "weights").glob("*.yaml"))


def crd_schema(obj: dict) -> dict | None:
    name = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    return json.loads((HERE / "schemas" / name).read_text()) if name else None


def validate_builtin(obj: dict, version: str) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


def validate_crd(obj: dict, version: str) -> None:
    schema = crd_schema(obj)
    jsonschema.Draft202012Validator(schema).validate(obj)
    # metadata: the Kubernetes ObjectMeta schema, through a ConfigMap that carries it.
    validate_builtin({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}, version)
    if obj["kind"] == "ScaledObject":
        behavior = obj["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior")
        if behavior is not None:
            validate_builtin({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 1,
                         "behavior": behavior}}, version)


def validate(obj: dict, version: str) -> None:
    if crd_schema(obj) is not None:
        validate_crd(obj, version)
    else:
        validate_builtin(obj, version)


def test_schema_versions_are_bundled():
    available = kubernetes_validate.utils.all_versions()
    for version in K8S_VERSIONS:
        assert version.rsplit(".", 1)[0] in {v.rsplit(".", 1)[0] for v in available}, available


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_objects_validate(overlay, version):
    errors = []
    for obj in render(overlay):
        try:
            validate(obj, version)
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{obj['apiVersion']} {obj['kind']}: no schema (add one to tests/k8s/schemas)")
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as e:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {str(e).splitlines()[0]}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("path", STANDALONE_MANIFESTS, ids=lambda p: p.name)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_standalone_manifests_validate(path, version):
    for obj in yaml.safe_load_all(path.read_text()):
        validate(obj, version)


def first(objects, kind, name=None):
    return next(o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def broken(mutate, overlay="prod-keda", kind="Deployment", name="qwen35-text"):
    obj = copy.deepcopy(first(render(overlay), kind, name))
    mutate(obj)
    return obj


@pytest.mark.parametrize("case", [
    # A typo in a field name (strict mode), a named port where an integer is required, wrong types.
    lambda o: o["spec"]["template"]["spec"]["containers"][0].__setitem__("readinessProbes", {}),
    lambda o: o["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"].__setitem__("port", "grpc"),
    lambda o: o["spec"]["template"]["spec"].__setitem__("terminationGracePeriodSeconds", "330"),
    lambda o: o["spec"].__setitem__("replicas", "two"),
], ids=["unknown-field", "named-grpc-port", "string-grace-period", "string-replicas"])
def test_schema_validation_catches_mistakes(case):
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken(case), K8S_VERSIONS[0])


@pytest.mark.parametrize("kind,name,case", [
    ("ServiceMonitor", "qwen35-text", lambda o: o["spec"]["endpoints"][0].__setitem__("intervall", "15s")),
    ("ServiceMonitor", "qwen35-text", lambda o: o["spec"]["endpoints"][0].__setitem__("interval", "15 seconds")),
    ("ServiceMonitor", "qwen35-text", lambda o: o["spec"].pop("selector")),
    ("ScaledObject", "qwen35-text", lambda o: o["spec"]["triggers"][0]["metadata"].__setitem__("threshold", 2)),
    ("ScaledObject", "qwen35-text", lambda o: o["spec"]["triggers"][0]["metadata"].pop("query")),
    ("ScaledObject", "qwen35-text", lambda o: o["spec"].__setitem__("minReplicas", 1)),
    ("ScaledObject", "qwen35-vision",
     lambda o: o["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"].__setitem__(
         "stabilisationWindowSeconds", 1)),
    ("ScaledObject", "qwen35-vision", lambda o: o["metadata"]["labels"].__setitem__("bad", 1)),
], ids=["sm-unknown-field", "sm-bad-duration", "sm-no-selector", "so-numeric-threshold", "so-no-query",
        "so-hpa-field-name", "so-behavior-typo", "so-label-not-string"])
def test_crd_validation_catches_mistakes(kind, name, case):
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate(broken(case, kind=kind, name=name), K8S_VERSIONS[0])
