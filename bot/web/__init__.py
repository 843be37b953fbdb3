"""The web app ``hrbot run`` serves when ``HRBOT_WEB_LISTEN`` is set, and always in webhook
mode: the Telegram webhook, health and metrics."""


class ListenError(OSError):
    """The web app's address cannot be listened on (in use, or not this host's); here, not
    in :mod:`bot.web.server`, so that the CLI can name it without importing uvicorn."""
