"""The release service: the release decision, agency holds and release notifications."""
