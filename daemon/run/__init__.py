"""The running daemon: start and stop, the shared services, the scheduler, health and metrics."""
