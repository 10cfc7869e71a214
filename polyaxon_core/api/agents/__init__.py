"""Agents: processes next to a cluster that claim the runs of their queues and report on them."""
