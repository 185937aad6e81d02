"""The web UI's templates and static files (served by `foreshock.api.routes.ui`)."""
