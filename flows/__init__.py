"""batch-analytics-platform: the pipeline package (domain logic, Prefect flows, settings, CLI)."""
