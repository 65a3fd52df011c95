# syntax=docker/dockerfile:1.7
# gateway: qwen35.v1.Gateway (CPU only). Build from the repository root:
#   docker build -f k8s/images/gateway.Dockerfile -t qwen35/gateway:0.1.0 .
# The gateway needs no CUDA, so it builds on Debian 12 (the project's own platform) and runs on
# debian:12-slim of the same point release: the runtime stage installs exactly the runtime
# packages of the libraries the build linked. (A binary built on a CUDA/Ubuntu image would need
# that Ubuntu's glibc and library versions at run time, which debian:12-slim does not have.)

FROM debian:12.11 AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config \
        libabsl-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc \
        nlohmann-json3-dev prometheus-cpp-dev \
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
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQWEN_BUILD_TESTS=OFF \
        -DQWEN_ENABLE_CUDA=OFF \
    && cmake --build build --target gateway \
    && install -D -m 0755 build/gateway/server/gateway /out/gateway \
    && bash /usr/local/bin/runtime-deps.sh /out/gateway > /out/runtime-packages.txt \
    && cat /out/runtime-packages.txt

FROM debian:12.11-slim
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
COPY --from=build /out/gateway /usr/local/bin/gateway
# Fails the build if the binary would not start for want of a shared library.
RUN --mount=type=bind,from=build,source=/usr/local/bin/runtime-deps.sh,target=/tmp/runtime-deps.sh \
    bash /tmp/runtime-deps.sh --check /usr/local/bin/gateway
LABEL org.opencontainers.image.title="qwen35 gateway" \
      org.opencontainers.image.description="Qwen3.5 front end: gRPC qwen35.v1.Gateway"
USER 10001:10001
WORKDIR /
EXPOSE 50050 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["--model=/models", "--listen=0.0.0.0:50050", "--metrics_port=9090"]
