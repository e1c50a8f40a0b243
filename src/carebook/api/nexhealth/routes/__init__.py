"""One module per NexHealth resource; ``ROUTERS`` lists them for the app."""
