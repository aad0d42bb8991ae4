"""Extra β schedules for vaeframe; each module is a plugin with its own entry point."""
