"""Queues: where runs wait, each with a priority and a concurrency."""
