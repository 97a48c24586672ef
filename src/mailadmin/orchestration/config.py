"""The configuration file: provider instances, tenants and the plan and add-on catalogue.

Example (TOML)::

    [journal]
    url = "sqlite:///mailadmin-journal.sqlite"   # any SQLAlchemy URL

    [plans.mail]
    rank = 1
    description = "Mail: webmail, POP/IMAP, 2 GB"
    [plans.sync]
    rank = 2

    [addons.shared_mailbox]
    description = "Shared mailboxes, sold in bulk"

    [instances.ox-eu]
    provider = "ox"
    endpoint = "https://ox.example.net"
    credentials = { username = "oxadmin", secret_env = "OX_SECRET" }
    plans.mail = { access_combination = "webmail_plus", quota_mb = 2048 }

    [tenants."example.com"]
    instance = "ox-eu"
    native_id = "1"
    domains = ["example.com", "example.org"]

Secrets come from an environment variable (``secret_env``) or a file (``secret_file``);
an inline ``secret`` is accepted for local mock set-ups only.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mailadmin.contract import errors
from mailadmin.contract.models import Name, TenantRef
from mailadmin.rules.policies import PoliciesConfig
from mailadmin.rules.tenancy import MAX_ALLOCATION, CustomerSpec, ResellerSpec

__all__ = [
    "AddonSpec",
    "ApiConfig",
    "Config",
    "EventsConfig",
    "InstanceConfig",
    "JournalConfig",
    "PlanSpec",
    "TelemetryConfig",
    "TenantConfig",
    "UnknownTenant",
    "WorkerConfig",
]


class UnknownTenant(errors.ValidationError):
    """No configured tenant has this name or domain. The orchestrator answers it, to any
    identity but the site admin, exactly as a tenant outside its reach (so an answer never
    tells which tenants exist)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown tenant '{name}'")
        self.name = name


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanSpec(_Strict):
    """A neutral plan of the catalogue. Higher ``rank`` is a bigger plan (for upgrades)."""

    rank: int = 0
    description: str = ""


class AddonSpec(_Strict):
    """A neutral add-on of the catalogue.

    ``value`` is what one of it grants (seed 003's first field: ``9999`` shared mailboxes
    in one add-on); it is sold by quantity, so a sale grants value x quantity, at most
    9,999 of a resource.
    """

    description: str = ""
    unit: str = "items"
    value: int = Field(default=1, ge=1, le=MAX_ALLOCATION)


class CredentialsConfig(_Strict):
    """Where a secret comes from: ``secret_env``, ``secret_file`` or inline ``secret``."""

    username: str = ""
    secret_env: str | None = None
    secret_file: Path | None = None
    secret: str | None = Field(default=None, repr=False)

    def resolve(self, base: Path, instance: str) -> dict[str, str]:
        """The credentials with the secret read from its source."""
        if self.secret_env is not None:
            value = os.environ.get(self.secret_env)
            if value is None:
                raise errors.ConfigurationError(
                    f"Instance '{instance}': environment variable {self.secret_env} is not set"
                )
        elif self.secret_file is not None:
            path = self.secret_file if self.secret_file.is_absolute() else base / self.secret_file
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError:
                raise errors.ConfigurationError(
                    f"Instance '{instance}': the secret file {path} cannot be read"
                ) from None
        else:
            value = self.secret or ""
        return {"username": self.username, "secret": value}


class InstanceConfig(BaseModel):
    """One provider instance. Keys other than these go to the provider's settings."""

    model_config = ConfigDict(frozen=True, extra="allow")

    provider: str
    credentials: CredentialsConfig = CredentialsConfig()

    def provider_settings(self, base: Path, name: str) -> dict[str, Any]:
        """The raw settings handed to the provider class for validation.

        Every nested table that names ``secret_env`` or ``secret_file`` (a plugin's
        per-context logins, say) gets its ``secret`` read from there, as ``credentials`` does.
        """
        raw: dict[str, Any] = _resolve_secrets(dict(self.model_extra or {}), base, name)
        raw["credentials"] = self.credentials.resolve(base, name)
        return raw


def _check_endpoints(instance: str, settings: dict[str, Any]) -> None:
    """A port out of range is named here, not left to fail on the first call."""
    from urllib.parse import urlsplit

    urls = [settings.get("endpoint")]
    endpoints = settings.get("endpoints")
    if isinstance(endpoints, dict):
        urls += list(endpoints.values())
    for url in urls:
        if not isinstance(url, str):
            continue
        try:
            port = urlsplit(url).port
        except ValueError:
            port = -1
        if port is not None and not 0 < port <= 65535:
            raise ValueError(
                f"instance '{instance}': the port of endpoint {url} must be a number "
                "from 1 to 65535"
            )


def _resolve_secrets(value: Any, base: Path, instance: str) -> Any:
    if isinstance(value, dict):
        if "secret_env" in value or "secret_file" in value:
            resolved = CredentialsConfig.model_validate(
                {k: value[k] for k in ("secret_env", "secret_file") if k in value}
            ).resolve(base, instance)["secret"]
            rest = {k: v for k, v in value.items() if k not in ("secret_env", "secret_file")}
            return {**rest, "secret": resolved}
        return {k: _resolve_secrets(v, base, instance) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, base, instance) for v in value]
    return value


class TenantConfig(_Strict):
    """A tenant: the instance that owns it, its platform id and its mail domains."""

    instance: str
    native_id: str | None = None
    domains: tuple[str, ...] = ()

    @field_validator("native_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class JournalConfig(_Strict):
    """Where writes are recorded: any SQLAlchemy URL; ``None`` keeps no journal."""

    url: str | None = "sqlite:///mailadmin-journal.sqlite"

    @field_validator("url")
    @classmethod
    def _a_url(cls, value: str | None) -> str | None:
        if value is not None and not _DB_URL.match(value):
            raise ValueError(
                f"'{value}' is not a database URL (e.g. sqlite:///mailadmin-journal.sqlite "
                "or postgresql+psycopg://user@host/db)"
            )
        return value

    def sqlite_path(self, base: Path) -> Path | None:
        """The journal's file for a ``sqlite:///`` URL (relative to ``base``), else None."""
        url = self.url or ""
        if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
            return None
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        return path if path.is_absolute() else base / path


class WorkerConfig(_Strict):
    """Distributed bulk work (docs/scaling.md): procrastinate workers over the PostgreSQL
    store. ``distributed``: bulk commands run on the workers unless told otherwise;
    ``chunk_size``: items per job; ``shards``: lanes per provider instance, which is also
    the most calls in flight on that instance across every worker; ``limits``: a different
    lane count for named instances (a platform allowing 4 concurrent admin calls: 4);
    ``keep_jobs_hours``: how long procrastinate keeps a finished job before the workers
    delete it (a run's results stay in mailadmin's own tables)."""

    distributed: bool = False
    chunk_size: int = Field(default=100, ge=1, le=10_000)
    shards: int = Field(default=16, ge=1, le=1024)
    limits: dict[str, Annotated[int, Field(ge=1, le=1024)]] = Field(default_factory=dict)
    keep_jobs_hours: int = Field(default=168, ge=0, le=87_600)

    def lanes(self, instance: str) -> int:
        """How many jobs of ``instance`` may run at once across every worker."""
        return self.limits.get(instance, self.shards)


class RunsConfig(_Strict):
    """Run ownership (docs/scaling.md): a process leases each run it works for
    ``lease_seconds`` and renews the lease by heartbeat (every third of it); another
    process takes a run over only once its lease has expired, so a holder that died
    is replaced after at most ``lease_seconds``."""

    lease_seconds: float = Field(default=30.0, ge=0.5, le=3600)


class ApiConfig(_Strict):
    """Limits of the HTTP API (``mailadmin serve``), applied before a request is read.

    ``max_body_bytes``: the largest request body accepted (413 past it; a chunked body is
    counted as it arrives and refused once past it); ``auth_failures`` within
    ``auth_window_seconds`` from one client address: after that many refused API keys,
    its requests are answered 429 with ``Retry-After`` until the window has passed."""

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    auth_failures: int = Field(default=10, ge=1, le=100_000)
    auth_window_seconds: float = Field(default=60.0, gt=0, le=86_400)


class EventsConfig(_Strict):
    """Webhook deliveries (docs/operations.md). ``deliver``: ``mailadmin serve`` delivers
    (workers always do); ``poll_seconds``: how often new events are looked for;
    ``backoff_seconds``: the wait before the first retry, doubling up to
    ``max_backoff_seconds``; ``max_attempts``: then the delivery ends ``failed`` (replay
    it by hand); ``hold_seconds``: a delivery being sent by a process that dies is sent
    again after this; ``open_row_minutes``: a journal row open this long is an event."""

    deliver: bool = True
    poll_seconds: float = Field(default=2.0, gt=0, le=3600)
    backoff_seconds: float = Field(default=10.0, gt=0, le=86_400)
    max_backoff_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    max_attempts: int = Field(default=12, ge=1, le=100)
    hold_seconds: float = Field(default=60.0, gt=0, le=86_400)
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    batch: int = Field(default=50, ge=1, le=1000)
    open_row_minutes: float = Field(default=60.0, gt=0, le=525_600)


class TelemetryConfig(_Strict):
    """Traces and logs (docs/operations.md). ``traces``: ``"off"``, ``"console"`` (spans
    printed as JSON) or ``"otlp"`` (to ``otlp_endpoint``, needs the OTLP exporter
    installed); ``json_logs``: log records as one JSON object a line, with the request
    id."""

    traces: Literal["off", "console", "otlp"] = "off"
    otlp_endpoint: str | None = None
    service_name: str = "mailadmin"
    json_logs: bool = False


_DB_URL = re.compile(r"^[a-z][a-z0-9+_.-]*://", re.IGNORECASE)


class Config(_Strict):
    """The whole configuration, validated and cross-checked."""

    instances: dict[str, InstanceConfig]
    tenants: dict[str, TenantConfig] = Field(default_factory=dict)
    plans: dict[Name, PlanSpec] = Field(default_factory=dict)
    addons: dict[Name, AddonSpec] = Field(default_factory=dict)
    journal: JournalConfig = JournalConfig()
    # Factories, not shared defaults: these hold dicts, so pydantic would deep-copy a
    # default per Config, which cost more than building a new one (per Orchestrator).
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    runs: RunsConfig = Field(default_factory=RunsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    # Business rules (docs/tenancy.md): records declared here, policies, the acting identity.
    resellers: dict[str, ResellerSpec] = Field(default_factory=dict)
    customers: dict[str, CustomerSpec] = Field(default_factory=dict)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    identity: str | None = None
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        for tenant, spec in self.tenants.items():
            if spec.instance not in self.instances:
                raise ValueError(f"tenant '{tenant}' names unknown instance '{spec.instance}'")
        for name, instance in self.instances.items():
            for plan in (instance.model_extra or {}).get("plans", {}):
                if self.plans and plan not in self.plans:
                    raise ValueError(f"instance '{name}' maps plan '{plan}' missing from [plans]")
            _check_endpoints(name, instance.model_extra or {})
        owner: dict[str, str] = {name.lower(): name for name in self.tenants}
        for tenant, spec in self.tenants.items():
            for domain in spec.domains:
                other = owner.setdefault(domain.lower(), tenant)
                if other != tenant:
                    raise ValueError(
                        f"domain '{domain}' is listed under tenants '{other}' and '{tenant}'; "
                        "a domain belongs to one tenant"
                    )
        path = self.journal.sqlite_path(self.base_dir)
        if path is not None and not path.parent.is_dir():
            raise ValueError(f"the folder of the journal file {path} does not exist")
        return self

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read and validate a TOML file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise errors.ConfigurationError(f"Configuration file {path} does not exist") from None
        except OSError:
            raise errors.ConfigurationError(f"Configuration file {path} cannot be read") from None
        except tomllib.TOMLDecodeError as exc:
            raise errors.ConfigurationError(
                f"Configuration file {path} is not valid TOML: {exc}"
            ) from None
        return cls.from_dict(data, base_dir=path.parent)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: Path | None = None) -> Config:
        """Validate an already parsed configuration."""
        from pydantic import ValidationError

        try:
            return cls.model_validate({**data, "base_dir": base_dir or Path(".")})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            raise errors.ConfigurationError(f"Invalid configuration: {problems}") from None

    def tenant_ref(self, name: str) -> TenantRef:
        """The reference of a configured tenant, found by name or by one of its domains."""
        spec = self.tenants.get(name)
        if spec is None:
            wanted = name.lower()
            # Through the domain index (a bulk run routes every item here); the scan is
            # kept for a domain the index does not know, and rebuilds it.
            tenant = self._domains.get(wanted)
            candidate = self.tenants.get(tenant) if tenant is not None else None
            if candidate is None or wanted not in (d.lower() for d in candidate.domains):
                tenant, candidate = self._scan_domains(wanted)
            if tenant is None or candidate is None:
                raise UnknownTenant(name)
            return self._ref(tenant, candidate.native_id)
        return self._ref(name, spec.native_id)

    def _ref(self, name: str, native_id: str | None) -> TenantRef:
        # Every call routes here twice or more (a bulk run: for each item's check and its
        # call); a reference is immutable, so one per tenant and native id serves them all.
        key = (name, native_id)
        ref = self._tenant_refs.get(key)
        if ref is None:
            ref = self._tenant_refs[key] = TenantRef(name=name, native_id=native_id)
        return ref

    @cached_property
    def _tenant_refs(self) -> dict[tuple[str, str | None], TenantRef]:
        return {}

    @cached_property
    def _domains(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for tenant, spec in self.tenants.items():
            for domain in spec.domains:
                index.setdefault(domain.lower(), tenant)
        return index

    def _scan_domains(self, wanted: str) -> tuple[str | None, TenantConfig | None]:
        for tenant, candidate in self.tenants.items():
            if wanted in (d.lower() for d in candidate.domains):
                self.__dict__.pop("_domains", None)  # stale: built again on next use
                return tenant, candidate
        return None, None

    def check_address_of(self, tenant: TenantRef, address: str) -> None:
        """Refuse (``ValidationError``) a mail address whose domain is not one of
        ``tenant``'s: a request names one tenant and every subject in it belongs there.
        An unknown domain gets the same answer as another tenant's (nothing tells which
        exist)."""
        try:
            owner = self.tenant_of_address(address.strip()).name
        except UnknownTenant:
            owner = None
        if owner != tenant.name:
            raise errors.ValidationError(
                f"'{address.strip()}' is not an address of customer '{tenant.name}'"
            )

    def tenant_of_address(self, address: str) -> TenantRef:
        """The tenant that owns a mail address, by its domain."""
        local, at, domain = address.rpartition("@")
        if not (local and at and domain):
            raise errors.ValidationError(f"'{address}' is not a mail address")
        return self.tenant_ref(domain)

    def instance_of(self, tenant: str) -> str:
        """The instance name that owns a tenant."""
        return self.tenants[self.tenant_ref(tenant).name].instance
