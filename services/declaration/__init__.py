"""The declaration service: lodgement, validation, acceptance (MRN), amendment, invalidation.

`domain/` is pure (no nameko, SQLAlchemy, kombu, structlog or prometheus); `schemas.py` loads
the HTTP document with marshmallow; `intake.py` is the one entry the service calls to turn a
request body into a validated `Declaration` or a `DeclarationInvalid` listing every problem.
"""
