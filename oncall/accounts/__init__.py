"""Console accounts: passwords (Argon2), single-use invitation and reset links, and the
session epoch that "sign out everywhere" raises. The web console and the CLI call these;
nothing here imports Flask."""
