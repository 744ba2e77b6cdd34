"""The Conversations API: durable conversations whose turns go through the Responses flow."""
