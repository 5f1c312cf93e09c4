"""The payment service: duty assessment, payments and the debt ledger of each declaration."""
