"""Notifications: subscriptions, the outbox written in the causing transaction, and delivery
in the app, by email and by signed webhooks (README "Notifications")."""
