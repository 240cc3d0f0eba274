"""Partners: businesses that send clients and receive them, and what each hears."""
