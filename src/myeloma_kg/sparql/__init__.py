"""The public SPARQL endpoint's engine: the guard that checks a query on its algebra, and the service
that runs checked queries within their limits."""
