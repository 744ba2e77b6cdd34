"""The HTTP layer: the Litestar app, its handlers and the one error-to-HTTP mapping."""
