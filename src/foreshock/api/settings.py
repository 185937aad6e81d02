"""Service settings, each declared once with its type, default and help text (datasette style).

    settings = Settings.load("foreshock.yaml")          # file values, then FORESHOCK_* env vars
    settings.max_body_bytes                              # typed access
    print(settings_markdown())                           # the table the docs must contain

A value comes from, last one winning: the declared default, the YAML file (a flat mapping of
setting names), then the environment (`FORESHOCK_` + the name upper-cased). Unknown names in a
file and values of the wrong type are errors that name the setting, never silent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "FORESHOCK_"


class SettingsError(ValueError):
    """A settings file or variable is wrong; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: type  # int, float, str, bool or list (of strings)
    default: Any
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def parse(self, raw: Any, where: str) -> Any:
        """A value from YAML (already typed) or from the environment (a string)."""
        try:
            if self.type is bool:
                if isinstance(raw, bool):
                    return raw
                text = str(raw).strip().lower()
                if text in ("1", "true", "yes", "on"):
                    return True
                if text in ("0", "false", "no", "off"):
                    return False
                raise ValueError(raw)
            if self.type is list:
                if isinstance(raw, list):
                    return [str(x) for x in raw]
                return [p for p in str(raw).split(",") if p.strip()]
            if self.type is int:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError(raw)
                return int(raw)
            if self.type is float:
                return float(raw)
            if raw is None:
                return None
            return str(raw)
        except (TypeError, ValueError):
            raise SettingsError(
                f"{where}: setting {self.name!r} needs a {self.type.__name__}, got {raw!r}"
            ) from None


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1", "Address the HTTP server listens on."),
    Setting("port", int, 9464, "Port the HTTP server listens on."),
    Setting("data_dir", str, "./foreshock-data", "Directory for local state (SQLite files)."),
    Setting(
        "state_url",
        str,
        "",
        "State store: a SQLite file path or a postgresql:// URL. "
        "Empty means `state.db` under `data_dir`.",
    ),
    Setting(
        "topology_files",
        list,
        [],
        "Topology files to load (YAML or JSON; a comma-separated list in the environment).",
    ),
    Setting("token_file", str, "", "YAML file of API tokens (name, role, sha256). Required."),
    Setting(
        "max_body_bytes",
        int,
        10 << 20,
        "Largest request body accepted, compressed, in bytes; larger bodies get 413.",
    ),
    Setting(
        "max_decompressed_bytes",
        int,
        64 << 20,
        "Largest body after snappy or gzip decompression, in bytes; larger ones get 400.",
    ),
    Setting(
        "max_series",
        int,
        2_000_000,
        "Cardinality cap: distinct series kept; new series beyond it are refused and counted.",
    ),
    Setting("max_series_per_request", int, 500_000, "Most series one remote_write body may hold."),
    Setting("hot_window_slots", int, 64, "Samples kept in memory per series (the hot window)."),
    Setting("max_kmsg_lines", int, 100_000, "Most kernel log lines one request may post."),
    Setting(
        "session_ttl_seconds",
        int,
        12 * 3600,
        "How long a UI sign-in lasts, in seconds (sessions are in memory: a restart ends them).",
    ),
    Setting(
        "session_cookie_secure",
        bool,
        False,
        "Mark the UI session cookie Secure (sent over HTTPS only); set it behind TLS.",
    ),
    Setting(
        "stream_queue_size",
        int,
        256,
        "Events buffered per event-stream client; a client that falls further behind loses "
        "them and is told to resync.",
    ),
    Setting(
        "pipeline",
        bool,
        True,
        "Run detection, correlation and diagnosis in this process, behind ingest (off: ingest "
        "and the API only).",
    ),
    Setting(
        "scrape_targets",
        list,
        [],
        "URLs of exporters to scrape (dcgm-exporter :9400, node_exporter :9100), "
        "comma-separated in the environment.",
    ),
    Setting(
        "scrape_sd_urls",
        list,
        [],
        "Prometheus http_sd endpoints that list scrape targets, re-read every minute.",
    ),
    Setting("scrape_interval", float, 15.0, "Seconds between scrapes of each target."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class Settings:
    """Resolved values of every declared setting, read as attributes."""

    host: str
    port: int
    data_dir: str
    state_url: str
    topology_files: list[str]
    token_file: str
    max_body_bytes: int
    max_decompressed_bytes: int
    max_series: int
    max_series_per_request: int
    hot_window_slots: int
    max_kmsg_lines: int
    session_ttl_seconds: int
    session_cookie_secure: bool
    stream_queue_size: int
    pipeline: bool
    scrape_targets: list[str]
    scrape_sd_urls: list[str]
    scrape_interval: float

    def __init__(self, **values: Any) -> None:
        for s in SETTINGS:
            default = list(s.default) if isinstance(s.default, list) else s.default
            object.__setattr__(self, s.name, default)
        for name, raw in values.items():
            setting = _BY_NAME.get(name)
            if setting is None:
                raise SettingsError(f"unknown setting {name!r}")
            object.__setattr__(self, name, setting.parse(raw, "argument"))

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
        values: dict[str, Any] = {}
        if path is not None:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            if not isinstance(doc, dict):
                raise SettingsError(f"{path}: a settings file is a mapping of setting names")
            for name, raw in doc.items():
                setting = _BY_NAME.get(str(name))
                if setting is None:
                    raise SettingsError(f"{path}: unknown setting {name!r}")
                values[setting.name] = setting.parse(raw, str(path))
        environ = os.environ if env is None else env
        for s in SETTINGS:
            if s.env in environ:
                values[s.name] = s.parse(environ[s.env], s.env)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {s.name: getattr(self, s.name) for s in SETTINGS}

    @property
    def resolved_state_url(self) -> str:
        return self.state_url or str(Path(self.data_dir) / "state.db")

    def __repr__(self) -> str:
        return f"Settings({self.as_dict()!r})"


def settings_markdown() -> str:
    """Every setting as a Markdown table: name, environment variable, type, default, help."""
    rows = [
        "| setting | environment | type | default | help |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = ",".join(s.default) if isinstance(s.default, list) else str(s.default)
        shown = f"`{default}`" if default else "(empty)"
        rows.append(f"| `{s.name}` | `{s.env}` | {s.type.__name__} | {shown} | {s.help} |")
    return "\n".join(rows) + "\n"
