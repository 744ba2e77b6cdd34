"""Routing: the compiled table, request facts and the pure routing decision."""
