"""Tests of plugin discovery, the hooks, and the `polyaxon plugins` commands."""
