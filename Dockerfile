FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 oncall
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oncall ./oncall
COPY worker ./worker
RUN pip install --no-cache-dir .
COPY rules ./rules
COPY schedules ./schedules
USER oncall
EXPOSE 8080
CMD ["oncall", "web"]
