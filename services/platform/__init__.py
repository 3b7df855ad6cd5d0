"""Platform: what every domain stands on — settings, the domain error base (`errors`), input checks (`inputs`),
the event seam to open pages (`events`) and its relay between instances on PostgreSQL (`across_instances`), logs,
metrics and event-loop lag, health, backups and mail (`notifications`), the model providers (`model_providers`),
and the one of each that several domains share: the retry policy (`retry`), the background-worker base
(`workers`), group commit for the hottest endpoints (`group_commit`) and the webhook store (`webhook_store`). For
the serving process: one serve per SQLite file (`single_instance`), a calm garbage collector (`garbage`) and an
orderly shutdown (`shutdown`).

NiceGUI is touched here (the event seam, the workers, group commit, logs, metrics, loop lag, shutdown), and
elsewhere only by the workers built on them (`billing.stripe_worker`, `provisioning.scheduler`) and by `accounts`
(its session storage). Other packages import these modules by name.
"""

__all__ = ['across_instances', 'backups', 'errors', 'events', 'garbage', 'group_commit', 'health', 'inputs', 'logs',
           'loop_lag', 'metrics', 'model_providers', 'notifications', 'retry', 'settings', 'shutdown',
           'single_instance', 'webhook_store', 'workers']
