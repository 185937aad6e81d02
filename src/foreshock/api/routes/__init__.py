"""The REST API (`api`) and the web UI (`ui`), each added to the app by one function."""
