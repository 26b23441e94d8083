"""Human-readable reports: data summaries and the end-to-end run report."""
