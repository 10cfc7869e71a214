"""polyaxon-optimizers: first-party optimizers plugins, discovered through entry points like any other."""
