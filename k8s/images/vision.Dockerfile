# syntax=docker/dockerfile:1.7
# vision_service: qwen35.v1.VisionEncoder. Build from the repository root:
#   docker build -f k8s/images/vision.Dockerfile -t qwen35/vision-service:0.1.0 .
# Both stages use the same Ubuntu release (24.04: CMake >= 3.25 and the gRPC 1.51 / protobuf 3.21 /
# absl 20220623 / prometheus-cpp 1.0 / OpenCV 4.6 packages the project builds against on Debian 12),
# so the runtime stage installs exactly the runtime packages of the libraries the build linked
# (OpenCV's core, imgproc, imgcodecs and videoio with their codec libraries among them).

FROM nvidia/cuda:13.0.2-devel-ubuntu24.04 AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config \
        libabsl-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc \
        nlohmann-json3-dev prometheus-cpp-dev \
        libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Everything the top-level CMakeLists.txt adds (tests/ and bench/ are not built here).
COPY CMakeLists.txt ./
COPY core/ core/
COPY kernels/ kernels/
COPY protos/ protos/
COPY server_common/ server_common/
COPY text_service/ text_service/
COPY gateway/ gateway/
COPY tools/ tools/
COPY vision_service/ vision_service/
COPY k8s/images/runtime-deps.sh /usr/local/bin/runtime-deps.sh
# Hopper (H100/H200) and GB10; add more compute capabilities here if needed.
ARG CUDA_ARCHITECTURES="90;121"
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQWEN_BUILD_TESTS=OFF \
        -DQWEN_ENABLE_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
        -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHITECTURES}" \
    && cmake --build build --target vision_service \
    && install -D -m 0755 build/vision_service/server/vision_service /out/vision_service \
    && bash /usr/local/bin/runtime-deps.sh /out/vision_service > /out/runtime-packages.txt \
    && cat /out/runtime-packages.txt

FROM nvidia/cuda:13.0.2-runtime-ubuntu24.04
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only (the list comes from the build stage); no compiler, no -dev package.
RUN --mount=type=bind,from=build,source=/out/runtime-packages.txt,target=/tmp/runtime-packages.txt \
    apt-get update \
    && xargs --no-run-if-empty --arg-file=/tmp/runtime-packages.txt \
        apt-get install -y --no-install-recommends \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 qwen \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin qwen
COPY --from=build /out/vision_service /usr/local/bin/vision_service
# Fails the build if the binary would not start for want of a shared library.
RUN --mount=type=bind,from=build,source=/usr/local/bin/runtime-deps.sh,target=/tmp/runtime-deps.sh \
    bash /tmp/runtime-deps.sh --check /usr/local/bin/vision_service
LABEL org.opencontainers.image.title="qwen35 vision_service" \
      org.opencontainers.image.description="Qwen3.5 vision encoder: gRPC qwen35.v1.VisionEncoder"
# The pod mounts an emptyDir at /tmp; the root filesystem is read-only.
ENV CUDA_CACHE_PATH=/tmp/cuda-cache
USER 10001:10001
WORKDIR /
EXPOSE 50051 9091
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/vision_service"]
CMD ["--model=/models", "--listen=0.0.0.0:50051", "--metrics_port=9091"]
