"""The web app ``hrbot run`` serves when ``HRBOT_WEB_LISTEN`` is set: health and metrics."""
