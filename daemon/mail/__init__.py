"""Email, from an owner's template to the relay: rendering, signing, the outbox and the sender."""
