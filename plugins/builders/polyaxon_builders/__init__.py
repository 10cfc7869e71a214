"""Image builders: what turns an operation's ``build`` section into an image."""
