"""The four clearance services: declaration, risk, payment and release."""
