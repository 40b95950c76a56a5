"""Forward-auth endpoints: each proxy flavour extracts the original request and renders the
decision in the way that proxy understands. They translate; the services decide."""
