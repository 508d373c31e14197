FROM python:3.11-slim
# The state the processes write lives under /var/lib/oncall, owned by the image's user, so a
# named volume mounted there starts out owned by it too (Docker copies a directory's owner
# and content into an empty named volume). The config files are not part of the image: the
# deployment mounts its own rules/ and schedules/ at /app/rules and /app/schedules (see
# docs/deploy.md); without them `oncall apply` applies nothing.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ONCALL_DATA_DIR=/var/lib/oncall/data \
    ONCALL_METRICS_DIR=/var/lib/oncall/metrics
RUN groupadd --gid 10001 oncall \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin oncall
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oncall ./oncall
COPY worker ./worker
RUN pip install --no-cache-dir .
RUN mkdir -p /app/rules /app/schedules /var/lib/oncall/data /var/lib/oncall/metrics \
    && chown -R 10001:10001 /var/lib/oncall
# Numeric, so that a runtime that checks runAsNonRoot can see it is not root.
USER 10001:10001
EXPOSE 8080
CMD ["oncall", "web"]
