"""CI: a project's link to a git repository, and the webhook its pushes call."""
