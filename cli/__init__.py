"""The `clearance` command line: for brokers, officers, auditors and operators."""

from shared.known_warnings import acknowledge

acknowledge()  # eventlet's deprecation (nameko imports it): nothing a user can act on
