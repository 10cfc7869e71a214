"""polyaxon-schedulers: first-party schedulers plugins, discovered through entry points like any other."""
