"""Distributed bulk work: a run split into chunks, run by procrastinate workers that share
the PostgreSQL store (docs/scaling.md).

:mod:`mailadmin.worker.runs` records runs and follows them (SQLAlchemy only);
:mod:`mailadmin.worker.engine` holds everything that imports procrastinate, loaded only
when a run is enqueued or a worker starts, so ``import mailadmin`` never pulls it in.
"""
