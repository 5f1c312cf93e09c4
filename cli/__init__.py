"""The `clearance` command line: for brokers, officers, auditors and operators."""
