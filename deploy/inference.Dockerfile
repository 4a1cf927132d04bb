# syntax=docker/dockerfile:1
# The GPU inference server, `python -m inference.server`, on a CUDA base. Build from the repository root:
#   docker build -f deploy/inference.Dockerfile -t quire-inference:latest .
# It installs the core and the `gpu` extra (torch, triton) and nothing of Django. Model weights are never
# downloaded: mount a checkpoint directory at /models/current (or pass --model).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04

FROM ${CUDA_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DEBIAN_FRONTEND=noninteractive
# Ubuntu's python3.12 follows the base image's security updates, so it is not pinned further.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3.12 python3.12-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3.12 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN pip install "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY inference inference
COPY kernels kernels
COPY common common
# hadolint ignore=DL3013
RUN pip install ".[gpu]"

FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# Triton compiles a small C launcher for each kernel on first use, so this image keeps a C compiler.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3.12 gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 quire \
    && useradd --system --uid 10001 --gid quire --create-home --home-dir /home/quire --shell /usr/sbin/nologin quire
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRITON_CACHE_DIR=/home/quire/.triton \
    QUIRE_INFERENCE_HOST=0.0.0.0 \
    QUIRE_INFERENCE_PORT=8001
USER 10001:10001
WORKDIR /home/quire
EXPOSE 8001
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4)"]
ENTRYPOINT ["python", "-m", "inference.server"]
CMD ["--model", "/models/current"]
