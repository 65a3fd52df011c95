"""A small kustomize renderer for the features k8s/ uses, so the manifests render offline.

kustomize and kubectl are not installable from the project's registries, so the tests render the
overlays with this module. It implements, following kustomize v5 (the tests compare its output with
`kubectl kustomize` wherever that binary exists):

* `resources` (YAML files, multi-document, and directories holding a kustomization) and
  `components` (kind: Component, applied to what the including kustomization accumulated);
* `configMapGenerator` (`literals`, `envs`, `files`; `behavior: create | merge | replace`) with the
  name hash suffix, computed as kustomize's hasher does, and the references to the generated
  ConfigMaps (volumes, envFrom, env valueFrom, projected sources) renamed to match;
* `patches` holding strategic-merge patches (from `path` or inline `patch`), matched by kind and
  name: maps merge, `null` deletes a field, `$patch: delete` / `$patch: replace`, lists with a
  Kubernetes patch merge key (containers, volumes, env, ports, topologySpreadConstraints, ...) merge
  item by item with kustomize's ordering (patch items first), other lists are replaced;
* `namespace`, `labels` (`pairs`, `includeTemplates`; not `includeSelectors`), `images`
  (`newName`, `newTag`, `digest`).

Anything else in a kustomization is refused with UnsupportedFeature rather than silently ignored.
Transformers run in kustomize's order: patches, namespace, labels, images; name hashes last.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {
    "apiVersion", "kind", "namespace", "labels", "resources", "components",
    "configMapGenerator", "patches", "images",
}
# Kinds that kustomize's namespace transformer leaves without metadata.namespace.
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "APIService", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "RuntimeClass", "IngressClass", "CSIDriver", "Node",
}
WORKLOAD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
# Kubernetes patch merge keys (x-kubernetes-patch-merge-key) of the lists a patch may touch, keyed
# by the field name and, where one name has several meanings, by the field that holds the list.
MERGE_KEYS_BY_FIELD = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "topologySpreadConstraints": "topologyKey",
    "hostAliases": "ip",
}
BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}
_DELETE = object()
_NEEDS_HASH = "__kustomize_lite_needs_hash__"


class UnsupportedFeature(Exception):
    """The kustomization uses something this renderer does not implement."""


class RenderError(Exception):
    """The kustomization is wrong (missing file, patch without a target, ...)."""


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def _load_yaml_docs(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d:
            raise RenderError(f"{path}: every document must be a Kubernetes object")
    return docs


def _find_kustomization(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    raise RenderError(f"no kustomization file in {directory}")


# ----------------------------------------------------------------------------------------------
# configMapGenerator


def _strip_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _env_file_pairs(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise UnsupportedFeature(f"{path}: '{raw}' takes its value from the environment")
        key, value = line.split("=", 1)
        if not re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", key):
            raise RenderError(f"{path}: invalid key {key!r}")
        pairs.append((key, value))
    return pairs


def _generator_data(gen: dict, base_dir: Path) -> dict[str, str]:
    unknown = set(gen) - {"name", "namespace", "behavior", "literals", "envs", "files", "options"}
    if unknown or "options" in gen:
        raise UnsupportedFeature(f"configMapGenerator fields {sorted(unknown | ({'options'} & set(gen)))}")
    data: dict[str, str] = {}

    def put(key: str, value: str, origin: str) -> None:
        if key in data:
            raise RenderError(f"configMapGenerator {gen['name']}: key {key} given twice ({origin})")
        data[key] = value

    for env in gen.get("envs", []):
        for key, value in _env_file_pairs(base_dir / env):
            put(key, value, env)
    for literal in gen.get("literals", []):
        if "=" not in literal:
            raise RenderError(f"configMapGenerator {gen['name']}: literal {literal!r} has no '='")
        key, value = literal.split("=", 1)
        put(key, _strip_quotes(value), "literals")
    for spec in gen.get("files", []):
        key, _, rel = spec.partition("=") if "=" in spec else (os.path.basename(spec), "", spec)
        put(key, (base_dir / rel).read_text(encoding="utf-8"), spec)
    return data


def _go_json(value: Any) -> str:
    """json.Marshal as Go writes it: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def configmap_hash(cm: dict) -> str:
    """kustomize's name suffix for a generated ConfigMap (api/hasher/hasher.go).

    kustomize looks the name up with the single path element "metadata/name", which never
    matches, so the name enters the hash as "" (observed with kustomize v5.5: the same data under
    two names gets the same suffix)."""
    encoded = {"kind": "ConfigMap", "name": "", "data": cm["data"] if "data" in cm else ""}
    if isinstance(cm.get("binaryData"), dict):
        encoded["binaryData"] = cm["binaryData"]
    digest = hashlib.sha256(_go_json(encoded).encode("utf-8")).hexdigest()
    table = {"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}
    return "".join(table.get(c, c) for c in digest[:10])


def _run_generators(kust: dict, base_dir: Path, objects: list[dict]) -> None:
    for gen in kust.get("configMapGenerator", []):
        name = gen["name"]
        behavior = gen.get("behavior", "create")
        data = _generator_data(gen, base_dir)
        existing = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name
                    and (gen.get("namespace") is None or o["metadata"].get("namespace") == gen["namespace"])]
        if behavior == "create":
            if existing:
                raise RenderError(f"configMapGenerator {name}: already exists (use behavior: merge)")
            cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
            if gen.get("namespace"):
                cm["metadata"]["namespace"] = gen["namespace"]
            cm[_NEEDS_HASH] = True
            objects.append(cm)
        elif behavior in ("merge", "replace"):
            if len(existing) != 1:
                raise RenderError(f"configMapGenerator {name}: behavior {behavior} needs exactly one "
                                  f"ConfigMap {name} from the resources, found {len(existing)}")
            cm = existing[0]
            if behavior == "merge":
                cm["data"] = {**cm.get("data", {}), **data}
            else:
                cm["data"] = data
        else:
            raise RenderError(f"configMapGenerator {name}: unknown behavior {behavior}")


# ----------------------------------------------------------------------------------------------
# Strategic merge patches


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if k != "$patch" and v is not None}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _merge_key(field: str, parent_field: str | None, items: list) -> str | None:
    if field == "ports":
        # Container ports merge on containerPort, Service ports on port.
        return "port" if parent_field == "spec" and items and "containerPort" not in items[0] else "containerPort"
    return MERGE_KEYS_BY_FIELD.get(field)


def strategic_merge(original: Any, patch: Any, field: str | None = None, parent: str | None = None) -> Any:
    """Applies a strategic-merge patch (the subset described in the module docstring)."""
    if isinstance(patch, dict):
        directive = patch.get("$patch")
        if directive == "delete":
            return _DELETE
        if directive == "replace":
            return _strip_directives(patch)
        if directive is not None:
            raise UnsupportedFeature(f"$patch: {directive}")
        if not isinstance(original, dict):
            return _strip_directives(patch)
        result = dict(original)
        for key, value in patch.items():
            if key.startswith("$"):
                raise UnsupportedFeature(f"patch directive {key}")
            if value is None:
                result.pop(key, None)
                continue
            merged = strategic_merge(result.get(key), value, key, field)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        return result
    if isinstance(patch, list):
        key = _merge_key(field or "", parent, patch or (original or []))
        if key is None or not isinstance(original, list) or not all(isinstance(i, dict) for i in patch):
            return _strip_directives(patch)
        by_key = {item.get(key): item for item in original if isinstance(item, dict)}
        patched_keys = set()
        merged_items = []
        for item in patch:
            if key not in item:
                raise RenderError(f"patch item of {field} has no merge key {key}: {item}")
            patched_keys.add(item[key])
            merged = strategic_merge(by_key.get(item[key]), item, None, field)
            if merged is not _DELETE:
                merged_items.append(merged)
        # kustomize (kyaml) puts the patch's items first, then the untouched original items.
        rest = [i for i in original if not (isinstance(i, dict) and i.get(key) in patched_keys)]
        return merged_items + rest
    return patch


def _parse_patch(entry: dict, base_dir: Path) -> list[dict]:
    unknown = set(entry) - {"path", "patch"}
    if unknown:
        raise UnsupportedFeature(f"patches fields {sorted(unknown)} (only path/patch: targets come from the patch)")
    if "path" in entry:
        text = (base_dir / entry["path"]).read_text(encoding="utf-8")
    else:
        text = entry["patch"]
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for d in docs:
        if not isinstance(d, dict):
            raise UnsupportedFeature("JSON 6902 patches")
    return docs


def _apply_patches(kust: dict, base_dir: Path, objects: list[dict]) -> list[dict]:
    for entry in kust.get("patches", []):
        for patch in _parse_patch(entry, base_dir):
            kind = patch.get("kind")
            name = patch.get("metadata", {}).get("name")
            group = _group(patch.get("apiVersion", ""))
            namespace = patch.get("metadata", {}).get("namespace")
            matches = [i for i, o in enumerate(objects)
                       if o["kind"] == kind and o["metadata"]["name"] == name
                       and _group(o["apiVersion"]) == group
                       and (namespace is None or o["metadata"].get("namespace") == namespace)]
            if len(matches) != 1:
                raise RenderError(f"patch for {kind}/{name} matches {len(matches)} resources")
            index = matches[0]
            merged = strategic_merge(objects[index], patch)
            if merged is _DELETE:
                del objects[index]
            else:
                objects[index] = merged
    return objects


# ----------------------------------------------------------------------------------------------
# namespace, labels, images, name references


def _set_namespace(objects: list[dict], namespace: str) -> None:
    for o in objects:
        if o["kind"] == "Namespace":
            o["metadata"]["name"] = namespace
        elif o["kind"] not in CLUSTER_SCOPED:
            o["metadata"]["namespace"] = namespace


def _apply_labels(objects: list[dict], label_specs: list[dict]) -> None:
    for spec in label_specs:
        unknown = set(spec) - {"pairs", "includeTemplates", "includeSelectors"}
        if unknown or spec.get("includeSelectors"):
            raise UnsupportedFeature("labels with includeSelectors (or fields " + str(sorted(unknown)) + ")")
        pairs = {k: str(v) for k, v in spec.get("pairs", {}).items()}
        for o in objects:
            o["metadata"].setdefault("labels", {}).update(pairs)
            if spec.get("includeTemplates") and o["kind"] in WORKLOAD_TEMPLATE_KINDS:
                template = o.setdefault("spec", {}).setdefault("template", {})
                template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    """name, tag, digest of an image reference (the registry port is part of the name)."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image, tag = image[:colon], image[colon + 1:]
    return image, tag, digest


def _retag(image: str, rule: dict) -> str:
    name, tag, digest = _split_image(image)
    name = rule.get("newName", name)
    if "digest" in rule:
        return f"{name}@{rule['digest']}"
    if "newTag" in rule:
        return f"{name}:{rule['newTag']}"
    if digest:
        return f"{name}@{digest}"
    return f"{name}:{tag}" if tag else name


def _apply_images(objects: list[dict], rules: list[dict]) -> None:
    for rule in rules:
        unknown = set(rule) - {"name", "newName", "newTag", "digest"}
        if unknown:
            raise UnsupportedFeature(f"images fields {sorted(unknown)}")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for c in value:
                        if isinstance(c, dict) and isinstance(c.get("image"), str):
                            for rule in rules:
                                if _split_image(c["image"])[0] == rule["name"]:
                                    c["image"] = _retag(c["image"], rule)
                                    break
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for o in objects:
        walk(o)


def _rename_configmap_refs(obj: dict, renames: dict[tuple[str | None, str], str]) -> None:
    namespace = obj["metadata"].get("namespace")

    def rename(ref: dict) -> None:
        new = renames.get((namespace, ref.get("name")))
        if new:
            ref["name"] = new

    def walk(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            if key in ("configMapRef", "configMapKeyRef", "configMap") and "name" in node:
                rename(node)
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    walk(obj.get("spec"), None)


def _add_hashes(objects: list[dict]) -> None:
    renames: dict[tuple[str | None, str], str] = {}
    for o in objects:
        if o.pop(_NEEDS_HASH, False):
            old = o["metadata"]["name"]
            o["metadata"]["name"] = f"{old}-{configmap_hash(o)}"
            renames[(o["metadata"].get("namespace"), old)] = o["metadata"]["name"]
    for o in objects:
        if o["kind"] != "ConfigMap":
            _rename_configmap_refs(o, renames)


# ----------------------------------------------------------------------------------------------
# Driver


def _accumulate(directory: Path, objects: list[dict], expected_kind: str) -> list[dict]:
    path = _find_kustomization(directory)
    kust = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    kind = kust.get("kind", "Kustomization")
    if kind != expected_kind:
        raise RenderError(f"{path}: kind {kind}, expected {expected_kind}")
    unknown = set(kust) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedFeature(f"{path}: {sorted(unknown)}")

    for res in kust.get("resources", []):
        target = (directory / res).resolve()
        if target.is_dir():
            objects.extend(_accumulate(target, [], "Kustomization"))
        elif target.is_file():
            objects.extend(_load_yaml_docs(target))
        else:
            raise RenderError(f"{path}: resource {res} not found")
    for comp in kust.get("components", []):
        objects = _accumulate((directory / comp).resolve(), objects, "Component")
    _run_generators(kust, directory, objects)
    objects = _apply_patches(kust, directory, objects)
    if kust.get("namespace"):
        _set_namespace(objects, kust["namespace"])
    _apply_labels(objects, kust.get("labels", []))
    _apply_images(objects, kust.get("images", []))
    _check_unique(objects, path)
    return objects


def _check_unique(objects: list[dict], where: Path) -> None:
    seen = set()
    for o in objects:
        ident = (_group(o["apiVersion"]), o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        if ident in seen:
            raise RenderError(f"{where}: {ident} defined twice")
        seen.add(ident)


def build(directory: str | os.PathLike) -> list[dict]:
    """Renders the kustomization in `directory` like `kustomize build` (objects, not text)."""
    objects = _accumulate(Path(directory).resolve(), [], "Kustomization")
    objects = copy.deepcopy(objects)
    _add_hashes(objects)
    return objects


def object_id(obj: dict) -> tuple[str, str, str, str]:
    return (obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
