"""ConfigBootstrap: defaults < release.toml < environment < command-line flags, merged per key.

Every value is validated where it enters; a bad value raises :class:`ConfigError` naming
the key and the source it came from (``release.toml``, ``env GENOMIC_PIPELINE__...``,
``--flag``), which the fronts turn into a one-line error and exit code 2.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "GENOMIC_PIPELINE"
ROOT_SECTION = "genomic_pipeline"


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names key and source."""


@dataclass
class NodeConfig:
    id: str = ""  # empty = generated from the host name
    listen_address: str = "127.0.0.1:9464"


@dataclass
class RecoveryConfig:
    auto_recover: bool = False
    stale_threshold_secs: float = 300.0
    heartbeat_interval_secs: float = 2.0
    max_recoveries: int = 3
    progress_timeout_secs: float = 3600.0


@dataclass
class StorageConfig:
    url: str = "workflow.db"


@dataclass
class PipelineConfig:
    chunk_size: int = 50_000
    seed: int = 42
    read_len: int = 100
    genome_bp: int = 0  # 0 = auto (about 30x coverage)
    region_bp: int = 250_000
    min_mean_phred: float = 20.0
    max_n_fraction: float = 0.05
    min_length: int = 50
    compute_threads: int = 2  # chunks of QC/alignment computed at once by one process


@dataclass
class CallingConfig:
    """Variant-calling settings users tune (a fork may change them; DESIGN: fork)."""

    min_qual: float = 20.0  # QUAL below -> FILTER LowQual
    min_depth: int = 4  # DP below -> FILTER LowDepth


@dataclass
class RetryConfig:
    max_attempts: int = 3
    initial_backoff_secs: float = 0.05
    backoff_multiplier: float = 2.0
    max_backoff_secs: float = 2.0
    jitter: float = 0.1


@dataclass
class WorkerConfig:
    concurrency: int = 2
    poll_interval_secs: float = 1.0


@dataclass
class DashboardConfig:
    poll_interval_secs: float = 0.5
    max_rows: int = 200
    run_threads: int = 4


@dataclass
class Config:
    target_granularity_ratio: float = 100.0
    node: NodeConfig = field(default_factory=NodeConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    calling: CallingConfig = field(default_factory=CallingConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    # where each key's value came from, for messages: "storage.url" -> "--storage"
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def node_id(self) -> str:
        return self.node.id or f"node-{socket.gethostname()}"


# Keys whose value must be > 0 (or >= 0) once parsed.
_POSITIVE = {
    "target_granularity_ratio", "recovery.stale_threshold_secs", "recovery.heartbeat_interval_secs", "recovery.progress_timeout_secs",
    "pipeline.chunk_size", "pipeline.read_len", "pipeline.compute_threads", "pipeline.region_bp", "retry.max_attempts",
    "retry.backoff_multiplier", "worker.concurrency", "worker.poll_interval_secs",
    "dashboard.poll_interval_secs", "dashboard.max_rows", "dashboard.run_threads",
}
_NON_NEGATIVE = {
    "recovery.max_recoveries", "pipeline.genome_bp", "pipeline.min_mean_phred", "pipeline.max_n_fraction",
    "pipeline.min_length", "retry.initial_backoff_secs", "retry.max_backoff_secs", "retry.jitter",
    "pipeline.seed", "calling.min_qual", "calling.min_depth",
}


def _leaf_types(cls: type, prefix: str = "") -> dict[str, type]:
    """Map dotted key -> python type for every leaf field of a config dataclass."""
    out: dict[str, type] = {}
    hints = {f.name: f for f in fields(cls)}
    for name, f in hints.items():
        if name == "sources":
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            out.update(_leaf_types(type(default), f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = type(default)
    return out


LEAVES: dict[str, type] = _leaf_types(Config)


def _coerce(key: str, raw: Any, source: str) -> Any:
    want = LEAVES[key]
    try:
        if want is bool:
            if isinstance(raw, bool):
                value: Any = raw
            elif isinstance(raw, str) and raw.strip().lower() in {"1", "true", "yes", "on"}:
                value = True
            elif isinstance(raw, str) and raw.strip().lower() in {"0", "false", "no", "off"}:
                value = False
            else:
                raise ValueError
        elif want is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = int(raw.strip()) if isinstance(raw, str) else int(raw)
        elif want is float:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
        else:
            if not isinstance(raw, str):
                raise ValueError
            value = raw
    except (TypeError, ValueError):
        raise ConfigError(
            f"{key}: expected {want.__name__}, got {raw!r} (from {source})"
        ) from None
    if key in _POSITIVE and value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, got {raw!r} (from {source})")
    if key in _NON_NEGATIVE and value < 0:
        raise ConfigError(f"{key}: must not be negative, got {raw!r} (from {source})")
    if key == "storage.url":
        from .storage.url import parse_storage_url  # local: keep config importable alone

        try:
            parse_storage_url(value)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc} (from {source})") from None
    return value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class ConfigBootstrap:
    """Builds a :class:`Config` from the four layers; see the module docstring."""

    def __init__(self, environ: Mapping[str, str] | None = None, cwd: Path | None = None):
        self.environ = os.environ if environ is None else environ
        self.cwd = cwd or Path.cwd()

    def config_path(self) -> Path:
        explicit = self.environ.get("APP_CONFIG_PATH")
        return Path(explicit) if explicit else self.cwd / "release.toml"

    def load(self, overrides: Mapping[str, Any] | None = None, flag_names: Mapping[str, str] | None = None) -> Config:
        """Merge the layers; ``overrides`` maps dotted keys to command-line values."""
        cfg = Config()
        values: dict[str, tuple[Any, str]] = {}
        for key, (raw, source) in {**self._from_toml(), **self._from_env()}.items():
            values[key] = (raw, source)
        for key, raw in (overrides or {}).items():
            if raw is None:
                continue
            source = (flag_names or {}).get(key, f"--{key.split('.')[-1].replace('_', '-')}")
            values[key] = (raw, source)
        for key, (raw, source) in values.items():
            value = _coerce(key, raw, source)
            obj: Any = cfg
            *parents, leaf = key.split(".")
            for p in parents:
                obj = getattr(obj, p)
            setattr(obj, leaf, value)
            cfg.sources[key] = source
        return cfg

    def _from_toml(self) -> dict[str, tuple[Any, str]]:
        path = self.config_path()
        explicit = "APP_CONFIG_PATH" in self.environ
        if not path.exists():
            if explicit:
                raise ConfigError(f"APP_CONFIG_PATH: no such file {str(path)!r}")
            return {}
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        section = data.get(ROOT_SECTION, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path.name}: [{ROOT_SECTION}] must be a table")
        out = {}
        for key, raw in _flatten(section).items():
            if key not in LEAVES:
                raise ConfigError(f"{ROOT_SECTION}.{key}: unknown key (from {path.name})")
            out[key] = (raw, path.name)
        return out

    def _from_env(self) -> dict[str, tuple[Any, str]]:
        out = {}
        head = ENV_PREFIX + "__"
        for name, raw in self.environ.items():
            if not name.startswith(head):
                continue
            key = name[len(head):].lower().replace("__", ".")
            if key not in LEAVES:
                raise ConfigError(f"{name}: unknown configuration key (from environment)")
            out[key] = (raw, f"env {name}")
        return out
