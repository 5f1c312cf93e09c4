"""Audit and replay: consignment history, decision replay, projection rebuild, Time Release Study."""
