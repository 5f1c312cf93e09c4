"""The declaration domain, pure Python: the typed declaration, its business rules, identifiers
(MRN, consignment id, payload fingerprint), the status vocabulary with its transition table,
and the amendment / invalidation guards (UCC articles 173 and 174).

Nothing here imports nameko, SQLAlchemy, kombu, structlog, prometheus or marshmallow;
reference data (tariff, countries, currencies) arrives as arguments.
"""
