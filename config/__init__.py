"""Settings: one frozen object from a TOML file and FRONTDESK_* variables."""
