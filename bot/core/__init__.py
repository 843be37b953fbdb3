"""The transport-free core: neutral messages, the per-update context, and the engine."""
