# A slim image that runs `hrbot run` as a non-root user; the database and key live in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HRBOT_DATA_DIR=/data \
    HRBOT_CONTENT_DIR=/app/content

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin hrbot

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY handlers ./handlers
COPY migrations ./migrations
COPY content ./content
RUN pip install --no-cache-dir . \
    && mkdir -p /data \
    && chown hrbot:hrbot /data

USER hrbot
VOLUME ["/data"]
ENTRYPOINT ["hrbot"]
CMD ["run"]
