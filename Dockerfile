# ClinicDesk in one container: supervisor + web + worker + a local redis-server.
#   docker build -t clinicdesk . && docker run -p 8080:8080 -v clinicdesk:/data clinicdesk
# BASE: any Debian bookworm image with python3.11 and pip (docs/deploy.md).
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLINIC_DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    # docker stop waits 10 s before SIGKILL: let running jobs finish within 8.
    SHUTDOWN_TIMEOUT=8

# redis-server runs inside the process group (run.py --with-redis). Versions
# come from Debian's stable security updates rather than a pin that would
# disappear from the mirror.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin clinic \
    && mkdir -p /data \
    && chown clinic:clinic /data

WORKDIR /app
COPY requirements.txt .
# Optional build secrets: a pip.conf (index, proxy) and the CA bundle it names,
# for builds behind a private index; neither stays in the image.
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    --mount=type=secret,id=ca.crt \
    pip install --no-compile -r requirements.txt

COPY --chown=root:root run.py tasks.py ./
COPY --chown=root:root app ./app
COPY --chown=root:root templates ./templates
COPY --chown=root:root static ./static

USER 10001
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

STOPSIGNAL SIGTERM
CMD ["python", "run.py", "--with-redis"]
