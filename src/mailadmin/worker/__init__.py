"""The worker face: procrastinate workers that run the chunks of distributed runs
(docs/scaling.md).

:mod:`mailadmin.worker.engine` holds the task and the worker loop (everything that imports
procrastinate, loaded only when a worker starts, so ``import mailadmin`` never pulls it
in); :mod:`mailadmin.worker.prune` deletes finished jobs. What a run is, and the order in
which it is planned, sent and finished, is the run service's
(:mod:`mailadmin.orchestration.runs`); its items and jobs are the store's.
"""
