"""Ollama's native API, both directions, its vocabulary in one place.

- `wire`: options, stop reasons, tool calls, images, timestamps, paths, the error envelope;
- `provider`: Ollama servers as backends (the adapter of provider kind ``ollama``);
- `requests`, `client`: Ollama's API as clients send it, checked and read into the
  internal dialect;
- `exchange`: a client's ``/api/chat`` or ``/api/generate`` to any provider kind
  (passed through to Ollama servers);
- `answers`, `stream`: Ollama's answers and NDJSON streams written for clients;
- `catalog`: ``/api/tags``, ``/api/ps`` and ``/api/show`` from the routing table.
"""
