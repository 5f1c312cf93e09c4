"""The `clearance` command line: for brokers, officers, auditors and operators."""

import warnings

# nameko imports eventlet, which warns on import that it is in maintenance mode; the
# command line has nothing to act on there (see README, "Stack").
warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
