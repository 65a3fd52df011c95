"""Deployment rules for the rendered qwen35 manifests.

Every check returns a list of violations (strings, each starting with the rule's name), so the
tests can assert that a correct render has none and that a broken one (tests/k8s/test_policy.py
breaks each rule on purpose) is caught.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

# The service contract of the three tiers (text_service/server/main.cc and the contract).
TIERS = {
    "qwen35-text": {
        "service": "qwen35.v1.TextGenerator", "grpc": 50052, "metrics": 9092, "gpu": True,
        "min_startup_s": 20 * 60, "headless": "text-headless", "targets_key": "TEXT_TARGETS",
        "autoscale_metrics": {"qwen35_text_num_requests_waiting", "qwen35_text_state_slot_usage"},
    },
    "qwen35-vision": {
        "service": "qwen35.v1.VisionEncoder", "grpc": 50051, "metrics": 9091, "gpu": True,
        "min_startup_s": 10 * 60, "headless": "vision-headless", "targets_key": "VISION_TARGETS",
        "autoscale_metrics": {"qwen35_vision_num_requests_waiting"},
    },
    "qwen35-gateway": {
        "service": "qwen35.v1.Gateway", "grpc": 50050, "metrics": 9090, "gpu": False,
        "min_startup_s": 2 * 60, "headless": None, "targets_key": None, "autoscale_metrics": set(),
    },
}
BACKENDS = ("qwen35-text", "qwen35-vision")
GATEWAY = "qwen35-gateway"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "PriorityClass", "CustomResourceDefinition"}
GPU = "nvidia.com/gpu"
MODELS_MOUNT = "/models"


# ----------------------------------------------------------------------------------------------
# helpers


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (cpu in cores, memory in bytes)."""
    text = str(value)
    m = re.fullmatch(r"([0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?", text)
    if not m:
        raise ValueError(f"not a quantity: {value!r}")
    scale = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}[m.group(2)]
    return float(m.group(1)) * scale


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def tier_of(workload: dict) -> str | None:
    return workload["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/name")


def find_workload(objects: list[dict], tier: str) -> dict | None:
    found = [w for w in workloads(objects) if tier_of(w) == tier]
    return found[0] if len(found) == 1 else None


def pod_labels(workload: dict) -> dict:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def selects(selector: dict | None, labels: dict) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) matches `labels`."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def configmaps(objects: list[dict], namespace: str | None) -> dict[str, dict]:
    return {o["metadata"]["name"]: o.get("data", {}) for o in objects
            if o["kind"] == "ConfigMap" and o["metadata"].get("namespace") == namespace}


def container_env(container: dict, cms: dict[str, dict]) -> tuple[dict[str, str], list[str]]:
    """The environment a container gets (envFrom ConfigMaps, then env), and what cannot resolve."""
    env: dict[str, str] = {}
    problems = []
    for src in container.get("envFrom", []):
        ref = src.get("configMapRef")
        if ref is None:
            problems.append(f"envFrom source {src} is not a ConfigMap")
            continue
        if ref["name"] not in cms:
            if not ref.get("optional"):
                problems.append(f"envFrom ConfigMap {ref['name']} does not exist")
            continue
        env.update({src.get("prefix", "") + k: v for k, v in cms[ref["name"]].items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "configMapKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["configMapKeyRef"]
            if ref["key"] in cms.get(ref["name"], {}):
                env[item["name"]] = cms[ref["name"]][ref["key"]]
            elif not ref.get("optional"):
                problems.append(f"env {item['name']}: ConfigMap key {ref['name']}/{ref['key']} does not exist")
    return env, problems


def expand(text: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """Kubernetes $(VAR) expansion of command/args; returns the result and unresolved names."""
    missing = []

    def sub(m: re.Match) -> str:
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        if m.group(1) in env:
            return env[m.group(1)]
        missing.append(m.group(1))
        return m.group(0)

    return re.sub(r"\$\$\([^)]*\)|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, text), missing


def resolved_args(container: dict, cms: dict[str, dict]) -> tuple[dict[str, str], list[str]]:
    """The container's --flag=value arguments after $(VAR) expansion, and problems."""
    env, problems = container_env(container, cms)
    flags = {}
    for arg in container.get("command", []) + container.get("args", []):
        value, missing = expand(str(arg), env)
        problems += [f"argument {arg!r} uses $({name}), which no env or ConfigMap key defines"
                     for name in missing]
        m = re.fullmatch(r"--([A-Za-z0-9_]+)=(.*)", value, re.S)
        if m:
            flags[m.group(1)] = m.group(2)
    return flags, problems


def main_container(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]["containers"][0]


def all_containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec.get("containers", [])


# ----------------------------------------------------------------------------------------------
# rules


def check_probes(objects: list[dict]) -> list[str]:
    out = []
    for w in workloads(objects):
        tier = tier_of(w)
        contract = TIERS.get(tier)
        name = w["metadata"]["name"]
        if contract is None:
            out.append(f"probes: {name}: unknown tier {tier!r}")
            continue
        for c in w["spec"]["template"]["spec"]["containers"]:
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            if ports.get("grpc") != contract["grpc"] or ports.get("metrics") != contract["metrics"]:
                out.append(f"probes: {name}/{c['name']}: ports {ports} are not the contract's "
                           f"grpc {contract['grpc']} / metrics {contract['metrics']}")
            for kind, service in (("startupProbe", ""), ("readinessProbe", contract["service"]),
                                  ("livenessProbe", "")):
                probe = c.get(kind)
                if probe is None:
                    out.append(f"probes: {name}/{c['name']} has no {kind}")
                    continue
                grpc = probe.get("grpc")
                if grpc is None:
                    out.append(f"probes: {name}/{c['name']} {kind} is not a gRPC probe")
                    continue
                if not isinstance(grpc.get("port"), int) or isinstance(grpc.get("port"), bool):
                    out.append(f"probes: {name}/{c['name']} {kind} port {grpc.get('port')!r} is not an integer")
                elif grpc["port"] != contract["grpc"]:
                    out.append(f"probes: {name}/{c['name']} {kind} probes port {grpc['port']}, "
                               f"the server listens on {contract['grpc']}")
                if grpc.get("service", "") != service:
                    out.append(f"probes: {name}/{c['name']} {kind} asks for service "
                               f"{grpc.get('service', '')!r}, expected {service!r}")
            startup = c.get("startupProbe") or {}
            budget = startup.get("failureThreshold", 3) * startup.get("periodSeconds", 10)
            if budget < contract["min_startup_s"]:
                out.append(f"probes: {name}/{c['name']} startupProbe allows {budget} s for weight loading, "
                           f"needs >= {contract['min_startup_s']} s")
    return out


def check_resources(objects: list[dict]) -> list[str]:
    out = []
    for w in workloads(objects):
        name = w["metadata"]["name"]
        contract = TIERS.get(tier_of(w), {})
        spec = w["spec"]["template"]["spec"]
        for c in all_containers(spec):
            res = c.get("resources", {})
            requests, limits = res.get("requests", {}), res.get("limits", {})
            for key in ("cpu", "memory"):
                if key not in requests or key not in limits:
                    out.append(f"resources: {name}/{c['name']} lacks a {key} request or limit")
                elif quantity(requests[key]) > quantity(limits[key]):
                    out.append(f"resources: {name}/{c['name']} {key} request {requests[key]} > limit {limits[key]}")
            if GPU in requests and GPU in limits and quantity(requests[GPU]) != quantity(limits[GPU]):
                out.append(f"resources: {name}/{c['name']} {GPU} request and limit differ")
        main = main_container(w)
        gpus = quantity(main.get("resources", {}).get("limits", {}).get(GPU, 0))
        if contract.get("gpu"):
            if gpus < 1:
                out.append(f"resources: {name} needs an {GPU} limit")
            tolerations = spec.get("tolerations", [])
            if not any(t.get("key") == GPU and t.get("operator") in ("Exists", "Equal") for t in tolerations):
                out.append(f"resources: {name} does not tolerate the {GPU} taint of GPU nodes")
            if not spec.get("nodeSelector") and not spec.get("affinity", {}).get("nodeAffinity"):
                out.append(f"resources: {name} has no node selector or node affinity for GPU nodes")
        elif gpus:
            out.append(f"resources: {name} is CPU-only but asks for {GPU}")
    return out


def check_security(objects: list[dict]) -> list[str]:
    out = []
    for w in workloads(objects):
        name = w["metadata"]["name"]
        spec = w["spec"]["template"]["spec"]
        pod = spec.get("securityContext", {})
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            out.append(f"security: {name}: pod seccompProfile is not RuntimeDefault")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            out.append(f"security: {name} uses host namespaces")
        for c in all_containers(spec):
            sc = c.get("securityContext", {})
            non_root = sc.get("runAsNonRoot", pod.get("runAsNonRoot"))
            user = sc.get("runAsUser", pod.get("runAsUser"))
            if non_root is not True:
                out.append(f"security: {name}/{c['name']} does not set runAsNonRoot")
            if user == 0:
                out.append(f"security: {name}/{c['name']} runs as UID 0")
            if sc.get("readOnlyRootFilesystem") is not True:
                out.append(f"security: {name}/{c['name']} has a writable root filesystem")
            if sc.get("allowPrivilegeEscalation") is not False:
                out.append(f"security: {name}/{c['name']} allows privilege escalation")
            if sc.get("privileged"):
                out.append(f"security: {name}/{c['name']} is privileged")
            caps = sc.get("capabilities", {})
            if "ALL" not in caps.get("drop", []) or caps.get("add"):
                out.append(f"security: {name}/{c['name']} does not drop ALL capabilities (or adds some)")
    return out


def check_pdbs(objects: list[dict]) -> list[str]:
    out = []
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    for w in workloads(objects):
        ns = w["metadata"].get("namespace")
        matching = [p for p in pdbs if p["metadata"].get("namespace") == ns
                    and selects(p["spec"].get("selector"), pod_labels(w))]
        if not matching:
            out.append(f"pdb: no PodDisruptionBudget selects the pods of {w['metadata']['name']}")
            continue
        for p in matching:
            spec = p["spec"]
            if "minAvailable" in spec and "maxUnavailable" in spec:
                out.append(f"pdb: {p['metadata']['name']} sets both minAvailable and maxUnavailable")
            # A budget that never allows an eviction blocks every node drain.
            if str(spec.get("maxUnavailable", "1")) in ("0", "0%"):
                out.append(f"pdb: {p['metadata']['name']} allows no disruption (maxUnavailable 0)")
            if "minAvailable" in spec and str(spec["minAvailable"]) == "100%":
                out.append(f"pdb: {p['metadata']['name']} allows no disruption (minAvailable 100%)")
    return out


def check_spreading(objects: list[dict]) -> list[str]:
    out = []
    for w in workloads(objects):
        spec = w["spec"]["template"]["spec"]
        labels = pod_labels(w)
        spread = [t for t in spec.get("topologySpreadConstraints", []) if selects(t.get("labelSelector"), labels)]
        anti = spec.get("affinity", {}).get("podAntiAffinity", {})
        terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
            t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
        anti_terms = [t for t in terms if selects(t.get("labelSelector"), labels)]
        if not spread and not anti_terms:
            out.append(f"spread: {w['metadata']['name']} has no topology spread or pod anti-affinity "
                       f"that selects its own pods")
        if spread and not any(t["topologyKey"] == "kubernetes.io/hostname" for t in spread) and not anti_terms:
            out.append(f"spread: {w['metadata']['name']} does not spread over nodes")
    return out


def check_drain(objects: list[dict]) -> list[str]:
    out = []
    for w in workloads(objects):
        name = w["metadata"]["name"]
        spec = w["spec"]["template"]["spec"]
        cms = configmaps(objects, w["metadata"].get("namespace"))
        for c in all_containers(spec):
            _, problems = resolved_args(c, cms)
            out += [f"drain: {name}/{c['name']}: {p}" for p in problems]
        main = main_container(w)
        flags, _ = resolved_args(main, cms)
        if "drain_timeout_s" not in flags:
            out.append(f"drain: {name} does not pass --drain_timeout_s")
            continue
        try:
            drain = int(flags["drain_timeout_s"])
        except ValueError:
            out.append(f"drain: {name}: --drain_timeout_s={flags['drain_timeout_s']!r} is not an integer")
            continue
        pre_stop = main.get("lifecycle", {}).get("preStop")
        if pre_stop is None:
            out.append(f"drain: {name} has no preStop hook (endpoints need a moment to drop the pod)")
            pre_stop_s = 0
        elif "sleep" in pre_stop:
            pre_stop_s = int(pre_stop["sleep"]["seconds"])
        else:
            m = re.search(r"sleep\s+(\d+)", " ".join(pre_stop.get("exec", {}).get("command", [])))
            pre_stop_s = int(m.group(1)) if m else 0
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace <= drain + pre_stop_s:
            out.append(f"drain: {name}: terminationGracePeriodSeconds {grace} <= preStop {pre_stop_s} s + "
                       f"--drain_timeout_s {drain}: SIGKILL would cut the drain short")
        threads = flags.get("threads")
        cpu_limit = main.get("resources", {}).get("limits", {}).get("cpu")
        if threads is not None and cpu_limit is not None:
            if not threads.isdigit() or not 1 <= int(threads) <= quantity(cpu_limit):
                out.append(f"drain: {name}: --threads={threads} must be between 1 and the CPU limit {cpu_limit}")
    return out


def check_weights(objects: list[dict]) -> list[str]:
    out = []
    for w in workloads(objects):
        name = w["metadata"]["name"]
        spec = w["spec"]["template"]["spec"]
        pvc_volumes = {v["name"]: v for v in spec.get("volumes", []) if "persistentVolumeClaim" in v}
        if not pvc_volumes:
            out.append(f"weights: {name} mounts no weights PersistentVolumeClaim")
        for vname, v in pvc_volumes.items():
            if v["persistentVolumeClaim"].get("readOnly") is not True:
                out.append(f"weights: {name}: volume {vname} (PVC) is not readOnly")
        for c in all_containers(spec):
            for m in c.get("volumeMounts", []):
                if m["name"] in pvc_volumes and m.get("readOnly") is not True:
                    out.append(f"weights: {name}/{c['name']} mounts the PVC {m['name']} writable")
            if not any(m["name"] in pvc_volumes and m["mountPath"] == MODELS_MOUNT
                       for m in c.get("volumeMounts", [])) and c in spec.get("containers", []):
                out.append(f"weights: {name}/{c['name']} does not mount the weights at {MODELS_MOUNT}")
        cms = configmaps(objects, w["metadata"].get("namespace"))
        model = resolved_args(main_container(w), cms)[0].get("model", "")
        if not model.startswith(MODELS_MOUNT):
            out.append(f"weights: {name}: --model={model!r} is not under {MODELS_MOUNT}")
        verify = [c for c in spec.get("initContainers", []) if c["name"] == "verify-checkpoint"]
        if not verify:
            out.append(f"weights: {name} has no verify-checkpoint initContainer")
            continue
        init_env, _ = container_env(verify[0], cms)
        command = [expand(str(a), init_env)[0] for a in verify[0].get("command", []) + verify[0].get("args", [])]
        if not any(a.endswith("verify-checkpoint.sh") for a in command) or model not in command:
            out.append(f"weights: {name}: verify-checkpoint does not check the served model {model!r}: {command}")
        if not any(m["name"] in pvc_volumes for m in verify[0].get("volumeMounts", [])):
            out.append(f"weights: {name}: verify-checkpoint does not mount the weights")
    return out


def check_images(objects: list[dict]) -> list[str]:
    out = []
    for w in workloads(objects):
        for c in all_containers(w["spec"]["template"]["spec"]):
            image = c["image"]
            last = image.rsplit("/", 1)[-1]
            if "@" not in image and ":" not in last:
                out.append(f"images: {w['metadata']['name']}/{c['name']}: {image} has no tag or digest")
            elif last.endswith(":latest"):
                out.append(f"images: {w['metadata']['name']}/{c['name']}: {image} uses :latest")
    return out


def check_services(objects: list[dict]) -> list[str]:
    """Headless Services for the backends, the gateway's dns:/// targets, ServiceMonitors."""
    out = []
    services = [o for o in objects if o["kind"] == "Service"]
    monitors = [o for o in objects if o["kind"] == "ServiceMonitor"]
    for tier, contract in TIERS.items():
        w = find_workload(objects, tier)
        if w is None:
            out.append(f"services: no single workload for tier {tier}")
            continue
        ns = w["metadata"].get("namespace")
        labels = pod_labels(w)
        mine = [s for s in services if s["metadata"].get("namespace") == ns and selects(
            {"matchLabels": s["spec"].get("selector", {})}, labels) and s["spec"].get("selector")]
        if contract["headless"]:
            headless = [s for s in mine if s["metadata"]["name"] == contract["headless"]]
            if not headless:
                out.append(f"services: no Service {contract['headless']} selects the {tier} pods")
            for s in headless:
                if s["spec"].get("clusterIP") != "None":
                    out.append(f"services: {s['metadata']['name']} is not headless (clusterIP: None)")
                if s["spec"].get("publishNotReadyAddresses"):
                    out.append(f"services: {s['metadata']['name']} publishes not-ready pods to the gateway")
                grpc = [p for p in s["spec"]["ports"] if p.get("name") == "grpc"]
                # Clients dial pod IPs from DNS directly: the Service port must be the pod port.
                if not grpc or grpc[0]["port"] != contract["grpc"] or grpc[0].get("targetPort", grpc[0]["port"]) \
                        not in (contract["grpc"], "grpc"):
                    out.append(f"services: {s['metadata']['name']} does not expose gRPC port {contract['grpc']} as is")
        monitored = [m for m in monitors if m["metadata"].get("namespace") == ns and any(
            selects(m["spec"]["selector"], s["metadata"].get("labels", {}))
            and any(p.get("name") == e.get("port") and p["port"] == contract["metrics"] for p in s["spec"]["ports"]
                    for e in m["spec"]["endpoints"])
            for s in mine)]
        if not monitored:
            out.append(f"services: no ServiceMonitor scrapes the metrics port {contract['metrics']} of {tier}")
    gateway = find_workload(objects, GATEWAY)
    if gateway is not None:
        ns = gateway["metadata"].get("namespace")
        cms = configmaps(objects, ns)
        flags, _ = resolved_args(main_container(gateway), cms)
        for tier in BACKENDS:
            contract = TIERS[tier]
            flag = contract["targets_key"].lower()
            target = flags.get(flag, "")
            m = re.fullmatch(r"dns:///([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)", target)
            if not m:
                out.append(f"services: gateway --{flag}={target!r} is not dns:///<service>.<namespace>"
                           f".svc.cluster.local:<port>")
                continue
            svc, svc_ns, port = m.group(1), m.group(2), int(m.group(3))
            if svc_ns != ns or svc != contract["headless"] or port != contract["grpc"]:
                out.append(f"services: gateway --{flag} points at {svc}.{svc_ns}:{port}, the {tier} headless "
                           f"Service is {contract['headless']}.{ns}:{contract['grpc']}")
    return out


def check_namespaces(objects: list[dict]) -> list[str]:
    out = []
    namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    for o in objects:
        if o["kind"] in CLUSTER_SCOPED:
            continue
        ns = o["metadata"].get("namespace")
        if not ns:
            out.append(f"namespace: {o['kind']}/{o['metadata']['name']} has no namespace")
        elif ns not in namespaces:
            out.append(f"namespace: {o['kind']}/{o['metadata']['name']} is in {ns}, which the render does not create")
    return out


def _peer_is_gateway(peer: dict, objects: list[dict]) -> bool:
    if set(peer) != {"podSelector"}:
        return False
    gateway = find_workload(objects, GATEWAY)
    if gateway is None or not selects(peer["podSelector"], pod_labels(gateway)):
        return False
    # The selector must not also admit other pods (e.g. an empty podSelector).
    return not any(selects(peer["podSelector"], pod_labels(w)) for w in workloads(objects) if w is not gateway)


def _peer_is_prometheus(peer: dict) -> bool:
    return (set(peer) == {"namespaceSelector", "podSelector"}
            and bool(peer["namespaceSelector"].get("matchLabels") or peer["namespaceSelector"].get("matchExpressions"))
            and bool(peer["podSelector"].get("matchLabels") or peer["podSelector"].get("matchExpressions")))


def check_network_policies(objects: list[dict]) -> list[str]:
    """Only gateway pods reach the backends' gRPC ports; only Prometheus reaches metrics ports."""
    out = []
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for tier, contract in TIERS.items():
        w = find_workload(objects, tier)
        if w is None:
            continue
        ns = w["metadata"].get("namespace")
        applying = [p for p in policies if p["metadata"].get("namespace") == ns
                    and selects(p["spec"]["podSelector"], pod_labels(w))
                    and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]
        if not applying:
            out.append(f"netpol: no Ingress NetworkPolicy selects the {tier} pods: all ingress is open")
            continue
        # What must stay reachable: the gRPC port (from the gateway for the backends, from clients
        # for the gateway) and the metrics port from Prometheus.
        grpc_open = metrics_open = False
        for p in applying:
            for rule in p["spec"].get("ingress", []):
                ports = {pp.get("port") for pp in rule.get("ports", [])}
                peers = rule.get("from", [])
                where = f"netpol: {p['metadata']['name']} ({tier})"
                if not rule.get("ports"):
                    out.append(f"{where}: a rule opens every port")
                if tier == GATEWAY and not peers:
                    if ports - {contract["grpc"], "grpc"}:
                        out.append(f"{where}: opens {ports} to everyone, only the gRPC port may be")
                    grpc_open = grpc_open or bool(ports & {contract["grpc"], "grpc"})
                    continue
                if not peers:
                    out.append(f"{where}: a rule admits every source")
                for peer in peers:
                    if tier in BACKENDS and _peer_is_gateway(peer, objects):
                        if ports - {contract["grpc"], "grpc"}:
                            out.append(f"{where}: the gateway may reach {ports}, only {contract['grpc']} is needed")
                        grpc_open = grpc_open or bool(ports & {contract["grpc"], "grpc"})
                    elif _peer_is_prometheus(peer):
                        if ports - {contract["metrics"], "metrics"}:
                            out.append(f"{where}: the monitoring peer may reach {ports}, only the metrics port")
                        metrics_open = metrics_open or bool(ports & {contract["metrics"], "metrics"})
                    else:
                        out.append(f"{where}: peer {peer} is neither the gateway nor Prometheus")
        if not grpc_open:
            source = "clients" if tier == GATEWAY else "the gateway"
            out.append(f"netpol: {source} cannot reach the gRPC port {contract['grpc']} of {tier}")
        if not metrics_open:
            out.append(f"netpol: Prometheus cannot reach the metrics port {contract['metrics']} of {tier}")
    return out


def autoscalers(objects: list[dict]) -> dict[str, list[dict]]:
    """HPAs and KEDA ScaledObjects by the name of the Deployment they scale."""
    found: dict[str, list[dict]] = {}
    for o in objects:
        if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"):
            ref = o["spec"]["scaleTargetRef"]
            if ref.get("kind", "Deployment") == "Deployment":
                found.setdefault(ref["name"], []).append(o)
    return found


def autoscaled_metric_names(scaler: dict) -> set[str]:
    if scaler["kind"] == "HorizontalPodAutoscaler":
        names = set()
        for m in scaler["spec"].get("metrics", []):
            section = m.get(m["type"][0].lower() + m["type"][1:], {})
            if "metric" in section:
                names.add(section["metric"]["name"])
        return names
    names = set()
    for t in scaler["spec"]["triggers"]:
        names |= set(re.findall(r"qwen35_[a-z_]+", t.get("metadata", {}).get("query", "")))
    return names


def check_autoscaling(objects: list[dict], required: bool) -> list[str]:
    """With `required` (prod), vision and text scale on their own metrics. Always: every autoscaler
    targets an existing Deployment, none is doubly scaled, and scaled ones leave replicas unset."""
    out = []
    scalers = autoscalers(objects)
    names = {w["metadata"]["name"]: w for w in workloads(objects)}
    for target, found in scalers.items():
        if target not in names:
            out.append(f"autoscaling: {found[0]['kind']} {found[0]['metadata']['name']} scales missing {target}")
            continue
        if len(found) > 1:
            out.append(f"autoscaling: {target} is scaled by {len(found)} autoscalers")
        if "replicas" in names[target]["spec"]:
            out.append(f"autoscaling: {target} sets spec.replicas although an autoscaler owns it")
        for s in found:
            lo = s["spec"].get("minReplicas", s["spec"].get("minReplicaCount", 1))
            hi = s["spec"].get("maxReplicas", s["spec"].get("maxReplicaCount", 100))
            if not 1 <= lo <= hi:
                out.append(f"autoscaling: {s['metadata']['name']}: replicas {lo}..{hi}")
            if s["kind"] == "ScaledObject":
                ns = s["metadata"].get("namespace")
                for t in s["spec"]["triggers"]:
                    query = t.get("metadata", {}).get("query", "")
                    if f'namespace="{ns}"' not in query:
                        out.append(f"autoscaling: {s['metadata']['name']} query {query!r} does not select "
                                   f"namespace {ns}")
    if required:
        for tier in BACKENDS:
            w = find_workload(objects, tier)
            if w is None:
                continue
            found = scalers.get(w["metadata"]["name"], [])
            if not found:
                out.append(f"autoscaling: nothing autoscales {tier}")
                continue
            used = set().union(*(autoscaled_metric_names(s) for s in found))
            if not used & TIERS[tier]["autoscale_metrics"]:
                out.append(f"autoscaling: {tier} does not scale on {sorted(TIERS[tier]['autoscale_metrics'])} "
                           f"(uses {sorted(used)})")
    return out


def check_all(objects: list[dict], autoscaling_required: bool) -> list[str]:
    checks: Iterable = (check_probes, check_resources, check_security, check_pdbs, check_spreading,
                        check_drain, check_weights, check_images, check_services, check_namespaces,
                        check_network_policies)
    out = []
    for check in checks:
        out += check(objects)
    out += check_autoscaling(objects, autoscaling_required)
    for tier in TIERS:
        if find_workload(objects, tier) is None:
            out.append(f"workloads: the render has no single {tier} workload")
    return out
