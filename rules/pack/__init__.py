"""The built-in rule pack: YAML files shipped with logwatch (see README.md here)."""
