"""polyaxon-stores: first-party stores plugins, discovered through entry points like any other."""
