"""The owner's side: reports, the digest, import and export, webhooks, first run."""
