"""The sample-referral workflow: a small pathway that shows the engine's features."""
