"""The plan stage: per layer its module, mapping and costs, and the static memory plan."""
