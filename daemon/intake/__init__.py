"""Where the world comes in: events (API, CLI, imports, webhooks) and replies by email."""
