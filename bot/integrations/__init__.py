"""Integrations: other systems that read Homeward through the REST API and hear of events by webhook."""
