"""Quotas: caps on the runs a project, team or user has running, and their resources."""
