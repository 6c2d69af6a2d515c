"""Outgoing mail: message building, template rendering and delivery backends."""
