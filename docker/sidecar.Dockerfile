# The OrderChatz sidecar image: web (gunicorn) and RQ worker are the same image with another command.
# Build context is the repository root (see docker-compose.yml); .dockerignore lets only the
# package sources and this directory's entrypoint in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid so files on the media volume keep their owner across rebuilds, and so the compose
# `setup` service can hand the credentials file to exactly this group (SIDECAR_GID in compose).
RUN groupadd --system --gid 10001 orderchatz \
 && useradd --system --uid 10001 --gid orderchatz --home-dir /var/lib/orderchatz \
        --shell /usr/sbin/nologin orderchatz \
 && install -d -o orderchatz -g orderchatz -m 0750 /var/lib/orderchatz /var/lib/orderchatz/media

# A regular (not editable) install: the sources are not needed at run time and are removed.
# mysql + postgres extras: the store runs on MariaDB in docker-compose, PostgreSQL by URL elsewhere.
WORKDIR /src
COPY pyproject.toml ./
COPY sidecar ./sidecar
RUN pip install ".[mysql,postgres]" \
 && rm -rf /src

# chmod here rather than COPY --chmod, which the legacy (non-BuildKit) builder rejects.
COPY docker/sidecar-entrypoint.sh /usr/local/bin/orderchatz-entrypoint
RUN chmod 0755 /usr/local/bin/orderchatz-entrypoint

WORKDIR /var/lib/orderchatz
ENV ORDERCHATZ_INSTANCE_DIR=/var/lib/orderchatz \
    ORDERCHATZ_MEDIA_DIR=/var/lib/orderchatz/media

USER orderchatz:orderchatz
EXPOSE 8000

# slim has no curl; urlopen raises on any non-2xx, so /readyz's 503 (DB or Redis down) fails the check.
# The worker runs this image without an HTTP server and turns the check off in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

ENTRYPOINT ["orderchatz-entrypoint"]
CMD ["orderchatz-sidecar", "serve", "--bind", "0.0.0.0:8000"]
