"""Users: exchange a password for a token, revoke it, and who am I (``/api/v1/users``)."""
