"""Analytics: revenue, cohorts, survival, retention projection and lifetime value."""
