"""The web UI of polyaxon-core, mounted on the API's application by its plugin hook."""
