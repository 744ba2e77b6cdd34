"""The provider admin API: views without secrets, request validation, file edits."""
