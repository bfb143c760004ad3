"""The client plumbing of the `openai` backend: rate limits, retries, the request loop.

Kept apart from the backend so that each piece has one job: `limits` paces requests,
`retry` decides whether and when a failed request is tried again, `client` sends requests
through the official async `openai` client on a background event loop."""
