"""Providers, instances (with capabilities), the plan catalogue and licences."""

from __future__ import annotations

from fastapi import APIRouter

from mailadmin.api.deps import CallerDep, ServicesDep
from mailadmin.api.models import Catalogue, InstanceInfo, ProviderInfo
from mailadmin.contract import errors
from mailadmin.contract.models import ConnectionStatus, Licence, NativePlan
from mailadmin.rules.identities import acting_scope

router = APIRouter(prefix="/v1", tags=["providers and instances"])


@router.get("/providers", response_model=list[ProviderInfo], summary="Installed providers")
async def providers(services: ServicesDep, caller: CallerDep) -> list[ProviderInfo]:
    """Every installed provider plugin and the capabilities it declares."""
    from mailadmin.contract.matrix import provider_rows

    return [
        ProviderInfo.model_validate({k: v for k, v in row.items() if k != "error"})
        for row in provider_rows(services.orch.registry)
    ]


@router.get("/instances", response_model=list[InstanceInfo], summary="Configured instances")
async def instances(services: ServicesDep, caller: CallerDep) -> list[InstanceInfo]:
    """Every configured instance, its capabilities and the tenants the caller reaches."""
    with acting_scope(caller.identity):
        return [_instance(services, name) for name in services.orch.instances]


@router.get(
    "/instances/{instance}", response_model=InstanceInfo, summary="One instance and capabilities"
)
async def instance(services: ServicesDep, caller: CallerDep, instance: str) -> InstanceInfo:
    """One configured instance."""
    with acting_scope(caller.identity):
        return _instance(services, _known(services, instance))


@router.get(
    "/instances/{instance}/plans",
    response_model=list[NativePlan],
    summary="The platform's native plans",
)
async def native_plans(services: ServicesDep, caller: CallerDep, instance: str) -> list[NativePlan]:
    """The instance's own plan catalogue (open to every caller)."""
    with acting_scope(caller.identity):
        return await services.orch.list_plans(_known(services, instance))


@router.get(
    "/instances/{instance}/licence", response_model=Licence, summary="Licence of one instance"
)
async def licence(services: ServicesDep, caller: CallerDep, instance: str) -> Licence:
    """Seats licensed and used, features, validity (the site admin's)."""
    with acting_scope(caller.identity):
        return await services.orch.get_licence(_known(services, instance))


@router.get(
    "/instances/{instance}/connection",
    response_model=ConnectionStatus,
    summary="Check an instance's connection",
)
async def connection(services: ServicesDep, caller: CallerDep, instance: str) -> ConnectionStatus:
    """Whether the instance answers and accepts its credentials (the site admin's)."""
    with acting_scope(caller.identity):
        return await services.orch.test_connection(_known(services, instance))


@router.get("/catalogue", response_model=Catalogue, summary="Neutral plans and add-ons")
async def catalogue(services: ServicesDep, caller: CallerDep) -> Catalogue:
    """The provider-neutral plans and add-ons of the configuration."""
    config = services.orch.config
    return Catalogue(plans=dict(config.plans), addons=dict(config.addons))


def _known(services: ServicesDep, instance: str) -> str:
    if instance not in services.orch.instances:
        raise errors.NotFoundError(f"No instance '{instance}'")
    return instance


def _instance(services: ServicesDep, name: str) -> InstanceInfo:
    orch = services.orch
    spec = orch.config.instances[name]
    cls = orch.registry.provider_class(spec.provider)
    provider = orch.provider(name)
    capabilities = provider.instance_capabilities
    return InstanceInfo(
        name=name,
        provider=spec.provider,
        platform=cls.platform,
        capabilities=[f.key for f in capabilities.features() if f.supported],
        tenants=[
            t
            for t in orch.tenants
            if orch.config.instance_of(t) == name and orch.rules.reachable(t)
        ],
    )
