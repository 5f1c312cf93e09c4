"""Integrity anchors outside the database: signed seals of the event log (`seals`, `sealer`)."""
