"""Teams: named groups of users given a role on projects as one."""
