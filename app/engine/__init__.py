"""The generic pathway engine: specs loaded from YAML, machines, firing events, diagrams.

Nothing here imports FastAPI or commits a transaction.
"""
