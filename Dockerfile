# syntax=docker/dockerfile:1
# Skillport proxy (`skillport serve`): members-only catalog + MCP connector.
#
#   docker build -t skillport .
#   docker run --rm -p 8000:8000 --env-file deploy/proxy.env -v "$PWD/site:/data/site:ro" skillport
#
# Every setting comes from SKILLPORT_* environment variables (docs/configuration.md); the image
# holds no secrets. Health: GET /healthz (process up), GET /readyz (a verified index is loaded).
# Running several replicas behind a load balancer: docs/admin/running-the-proxy.md.

# Stage 1: the skillport wheel (templates, theme and the default mkdocs.yml are package data in it).
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md mkdocs.yml ./
COPY builder/ builder/
COPY proxy/ proxy/
COPY templates/ templates/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# Stage 2: the runtime, with the wheel installed (regular, not editable) into a virtualenv.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    NO_MKDOCS_2_WARNING=1 \
    PATH=/opt/venv/bin:$PATH \
    SKILLPORT_ORIGIN=/data/site \
    SKILLPORT_PUBLISH_WORKDIR=/data/publish

# git: editing through the proxy (SKILLPORT_MARKETPLACE_GIT) commits and pushes with it. Debian's
# git is not pinned: the base image's security updates should flow in on each rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 skillport \
    && useradd --system --uid 10001 --gid skillport --home-dir /data --shell /usr/sbin/nologin skillport \
    && mkdir -p /data/site /data/publish \
    && chown -R skillport:skillport /data

COPY --from=wheel /dist/ /tmp/dist/
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir /tmp/dist/skillport-*.whl \
    && rm -rf /tmp/dist \
    && python -c "import builder.build, builder.resources, proxy.app; builder.resources.templates_dir()" \
    && skillport --help > /dev/null

# Numeric so that Kubernetes `runAsNonRoot` can check it.
USER 10001:10001
WORKDIR /data
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# Listen on all interfaces inside the container (the default, 127.0.0.1, is unreachable from outside).
CMD ["skillport", "serve", "--host", "0.0.0.0", "--port", "8000"]
