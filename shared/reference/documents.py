"""Document types the platform recognises (upper case; compared case-insensitively)."""

#: Documents that prove the origin of goods for a tariff preference.
PROOF_OF_ORIGIN_TYPES = frozenset({
    "PROOF_OF_ORIGIN", "EUR1", "EUR-MED", "FORM_A", "ORIGIN_DECLARATION",
    "STATEMENT_ON_ORIGIN", "CERTIFICATE_OF_ORIGIN", "IMPORTER_KNOWLEDGE",
})
