"""Dashboards: saved views of a project's runs."""
