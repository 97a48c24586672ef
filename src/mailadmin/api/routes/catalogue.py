"""Providers, instances (with capabilities), the plan catalogue and licences."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mailadmin.api.deps import CallerDep, ServicesDep
from mailadmin.api.models import Catalogue, InstanceInfo, ProviderInfo
from mailadmin.api.paging import PAGED, Cursor, Limit, page_of, paged_response
from mailadmin.contract import errors
from mailadmin.contract.models import ConnectionStatus, Licence, NativePlan
from mailadmin.rules.identities import acting_scope

router = APIRouter(prefix="/v1", tags=["providers and instances"])


@router.get(
    "/providers",
    response_model=list[ProviderInfo],
    summary="Installed providers",
    responses=PAGED,
)
async def providers(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every installed provider plugin and the capabilities it declares, by name."""
    from mailadmin.contract.matrix import provider_rows

    found = [
        ProviderInfo.model_validate({k: v for k, v in row.items() if k != "error"})
        for row in provider_rows(services.orch.registry)
    ]
    page = page_of(found, _by_name, scope="providers", limit=limit, cursor=cursor)
    return paged_response(request, page)


@router.get(
    "/instances",
    response_model=list[InstanceInfo],
    summary="Configured instances",
    responses=PAGED,
)
async def instances(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """Every configured instance, its capabilities and the tenants the caller reaches."""
    with acting_scope(caller.identity):
        found = [_instance(services, name) for name in services.orch.instances]
    page = page_of(found, _by_name, scope="instances", limit=limit, cursor=cursor)
    return paged_response(request, page)


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
    responses=PAGED,
)
async def native_plans(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    instance: str,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    """The instance's own plan catalogue (open to every caller), by native name."""
    with acting_scope(caller.identity):
        found = await services.orch.list_plans(_known(services, instance))
    page = page_of(
        found, lambda p: (p.native_name,), scope=f"plans:{instance}", limit=limit, cursor=cursor
    )
    return paged_response(request, page)


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


def _by_name(item: ProviderInfo | InstanceInfo) -> tuple[str]:
    return (item.name,)


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
