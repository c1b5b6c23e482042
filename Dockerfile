# syntax=docker/dockerfile:1
# One image for every logpipe role: `docker run IMAGE collector|forwarder|api|...`.
#
# Stage 1 builds a virtualenv with logpipe and its dependencies (they ship manylinux
# wheels, confluent-kafka including librdkafka); gcc is there only for the collector's
# C hot path (collector/_fastpath.c), which stays in the build stage's venv as a .so.
# Stage 2 copies only that venv onto the same slim base and runs as a non-root user.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* \
 && python -m venv /opt/logpipe
WORKDIR /src
# Metadata first: the dependency layer is reused while only the code changes.
COPY pyproject.toml README.md ./
# Every package of pyproject.toml (the demo writer is handy in a cluster too).
ARG PACKAGES="logpipe collector forwarder log_api events journald kube client stack demo cli"
RUN for p in $PACKAGES; do mkdir "$p" && touch "$p/__init__.py"; done \
 && /opt/logpipe/bin/pip install . \
 && /opt/logpipe/bin/pip uninstall -y logpipe \
 && rm -rf build ./*.egg-info $PACKAGES
COPY logpipe ./logpipe
COPY collector ./collector
COPY forwarder ./forwarder
COPY log_api ./log_api
COPY events ./events
COPY journald ./journald
COPY kube ./kube
COPY client ./client
COPY stack ./stack
COPY demo ./demo
COPY cli ./cli
# The import check fails the build if the C hot path did not compile (it is optional
# for pip, so a missing compiler would otherwise pass silently and run slower).
RUN /opt/logpipe/bin/pip install --no-deps . \
 && /opt/logpipe/bin/python -c "import collector._fastpath" \
 && /opt/logpipe/bin/logpipe --version

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="logpipe" \
      org.opencontainers.image.description="Streaming log pipeline: collector -> Kafka -> forwarder -> Elasticsearch -> Log API" \
      org.opencontainers.image.licenses="Apache-2.0"
# journalctl (Debian's systemd package) for the `logpipe journald` role; nothing else.
RUN apt-get update \
 && apt-get install -y --no-install-recommends systemd \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid so Kubernetes' runAsUser and host folder permissions can name it.
RUN groupadd --system --gid 10001 logpipe \
 && useradd --system --uid 10001 --gid logpipe --home-dir /nonexistent \
            --no-create-home --shell /usr/sbin/nologin logpipe
COPY --from=build /opt/logpipe /opt/logpipe
ENV PATH=/opt/logpipe/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOGPIPE_LOG_FORMAT=json
# Non-root by default. The collector alone runs as root (compose `user: "0:0"`,
# chart securityContext) because Docker's log files are root-only (0640 / 0710);
# it drops every capability and sees the host folders read-only.
USER 10001:10001
WORKDIR /tmp
# api, collector metrics, forwarder metrics
EXPOSE 8080 9101 9102
ENTRYPOINT ["logpipe"]
CMD ["--help"]
