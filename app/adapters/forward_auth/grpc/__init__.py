"""Envoy's ext_authz over gRPC: the wire messages, the grpc.aio servicer and its lifespan."""
