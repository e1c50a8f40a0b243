"""Request and response models of the NexHealth-style API."""
