"""Outbound notifications: the channel senders (webhook, Slack, SMTP) and the outbox worker."""
