"""Pure computation for AI Performance Monitor: no Home Assistant imports below this package."""
