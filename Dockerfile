# Countersign: `countersign serve` on 0.0.0.0:$COUNTERSIGN_PORT as an unprivileged user.
#
# Build:  buildah bud --format docker -t countersign .   (or: docker build -t countersign .)
# The runtime image holds the Python base and one virtualenv with `pip install .` (no dev
# extras, no pip, no compiler, no curl). At run time it writes only the lock file of its data
# directory (COUNTERSIGN_DATA_DIR, under /tmp): run it with a read-only root and a small
# tmpfs on /tmp (`--read-only`; `readOnlyRootFilesystem: true` and an emptyDir).
# PYTHON_IMAGE may name any Debian-based image with python3 and its venv module.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
RUN python3 -m venv /opt/countersign
COPY pyproject.toml constraints.txt README.md ./
# Runtime dependencies only (no dev extras), at the versions the test suite ran with
# (constraints.txt). Installed for an empty package first, so this layer is rebuilt only when
# the dependencies change, not with every change to the code.
RUN mkdir app && touch app/__init__.py \
    && /opt/countersign/bin/pip install --no-cache-dir --constraint constraints.txt . \
    && rm -rf app build countersign.egg-info
COPY app ./app
# Then Countersign itself; then pip goes: the image installs nothing after it is built.
RUN /opt/countersign/bin/pip install --no-cache-dir --no-deps --force-reinstall . \
    && /opt/countersign/bin/python -m pip uninstall --yes pip setuptools wheel

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="Countersign" \
      org.opencontainers.image.description="A zero-trust policy decision point for forward-auth proxies" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric id, so `runAsNonRoot` can check it and volumes can be owned by it.
RUN groupadd --system --gid 10001 countersign \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin countersign
COPY --from=build /opt/countersign /opt/countersign
# Policies are mounted at POLICY_DIR (a ConfigMap, a volume); the image ships none, so a
# container started without them refuses to start rather than guess.
ENV PATH=/opt/countersign/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COUNTERSIGN_HOST=0.0.0.0 \
    COUNTERSIGN_PORT=8080 \
    COUNTERSIGN_POLICY_DIR=/etc/countersign/policies \
    COUNTERSIGN_DATA_DIR=/tmp/countersign
WORKDIR /opt/countersign
USER 10001:10001
EXPOSE 8080
# Slim images have no curl: Python asks /healthz on the port the service was given.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('COUNTERSIGN_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["countersign"]
CMD ["serve"]
