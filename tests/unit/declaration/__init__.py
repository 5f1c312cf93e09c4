"""Unit tests of the declaration service's intake, domain rules, identifiers and statuses.

Strategy: pure functions tested directly, no broker, database or service. Reference data
(tariff, countries, currencies) comes from in-memory fakes of our own ports (`support.py`);
one test uses the real lists from `shared.reference` when that package exists. Every refusal
is asserted by its JSON pointer and by words of its message that tell the trader what to do.
"""
