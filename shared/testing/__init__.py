"""Test support shared by the test suites: databases, broker vhosts, service processes, and a
tiny messaging application (registry and nameko services) for the messaging tests."""
