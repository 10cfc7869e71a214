"""Organization administration: members, users, tokens and the audit log."""
