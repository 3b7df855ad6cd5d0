"""Platform: what every domain stands on — settings, the domain error base (`errors`), input checks (`inputs`),
the event seam to open pages (`events`), logs, metrics and event-loop lag, health, backups and mail
(`notifications`), and the one of each that several domains share: the retry policy (`retry`), the
background-worker base (`workers`) and the webhook store (`webhook_store`). Besides the event seam, only these
touch NiceGUI. Other packages import these modules by name.
"""

__all__ = ['backups', 'errors', 'events', 'health', 'inputs', 'logs', 'loop_lag', 'metrics', 'notifications',
           'retry', 'settings', 'webhook_store', 'workers']
