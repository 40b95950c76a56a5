"""The web pages: request access, follow a request, review as an approver, see and end grants.

Server-rendered with Jinja2 (autoescape on), one small static script, no build step.
"""
