"""Private helpers shared by the sub-packages: validation, budgets, devices."""
