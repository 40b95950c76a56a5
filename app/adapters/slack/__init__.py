"""Approving from Slack: the interactivity endpoint, Slack's request signature, the Web API
calls it makes, and how a Slack user becomes a person (docs/adr/0015-slack-approvals.md)."""
