"""Domain logic: every rule of the product lives in a service, never in a view, task or command."""
