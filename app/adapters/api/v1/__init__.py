"""The REST API, /api/v1: access requests, grants, the audit log, policies and explain.

JSON in and out, errors as RFC 9457 problem documents with a stable `code`, bearer JWTs or
scoped service tokens (see `auth`). `openapi` prints the OpenAPI document checked in at
openapi/openapi.json.
"""
