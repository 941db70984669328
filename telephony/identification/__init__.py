"""Mobile Phone Number Identification (docs/identification.md), bottom to top:
``ledger`` (constants, provider and price, the cap, the ledger, claims; queues nothing),
``selectors`` (reads), ``pool`` (lookups in flight), ``backfill`` (the runner) and
``services`` (every decision; the only module that queues tasks)."""
