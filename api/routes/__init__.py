"""One module per resource; `api.router` includes them all."""
