"""The Responses API: translation to Chat Completions, streaming events, the service."""
