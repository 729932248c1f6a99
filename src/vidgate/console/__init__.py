"""The web console at `/`: sign-in by API key, tasks live, a playground, usage and admin pages."""
