"""The declaration domain, pure Python: the typed declaration, its business rules, identifiers
(MRN, consignment id, payload fingerprint), the status vocabulary with its transition table,
and the status view folded from the facts the log holds about a consignment.

Nothing here imports nameko, SQLAlchemy, kombu, structlog or prometheus; reference data
(tariff, countries, currencies) arrives as arguments.
"""
