"""Business rules kept by mailadmin: allocations (tenancy, identities and policies to come)."""
