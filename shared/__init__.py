"""Contracts, domain types and configuration shared by the lägesbild services.

Nothing in this package opens a connection at import time; the only I/O helpers
(`shared.db`, `shared.redis_runtime`) are called explicitly by the services.
"""
