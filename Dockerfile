# A slim image that runs `hrbot run` as a non-root user (uid 10001); the SQLite database and the
# status file live in /data, the key never does: it is read from /run/secrets/hrbot_key (a compose
# secret, see docker-compose.yml), or HRBOT_SECRET_KEY. The image never generates one: a key made
# in the container would be lost with it, or end up in the data volume.
FROM python:3.11-slim

# Webhook mode (HRBOT_WEBHOOK_URL set) must listen on the container's own interface to be
# reachable through a published port or a reverse proxy; polling mode opens no port at all.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HRBOT_DATA_DIR=/data \
    HRBOT_SECRET_KEY_FILE=/run/secrets/hrbot_key \
    HRBOT_CONTENT_DIR=/app/content \
    HRBOT_WEBHOOK_LISTEN=0.0.0.0 \
    HRBOT_WEBHOOK_PORT=8443

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin hrbot

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY handlers ./handlers
COPY migrations ./migrations
COPY content ./content
RUN pip install --no-cache-dir . \
    && mkdir -p /data \
    && chown hrbot:hrbot /data \
    && chmod 700 /data

USER hrbot
VOLUME ["/data"]
EXPOSE 8443

# Healthy only while the database answers, the bot's clock ticked within the last minute and
# every configured channel answered at its last tick (`hrbot health` reads /data/status.json).
HEALTHCHECK --interval=30s --timeout=15s --start-period=2m --retries=3 \
    CMD ["hrbot", "health"]

ENTRYPOINT ["hrbot"]
CMD ["run"]
