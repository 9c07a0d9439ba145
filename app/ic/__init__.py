"""Intermediate care: services and their capacity, the waiting list, episodes and reporting."""
