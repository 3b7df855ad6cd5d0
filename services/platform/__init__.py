"""Platform: what every domain stands on — settings, the domain error base (`errors`), input checks (`inputs`),
the event seam to open pages (`events`), logs, metrics and event-loop lag, health, backups and mail
(`notifications`). Besides the event seam, only these touch NiceGUI. Other packages import these modules by name.
"""

__all__ = ['backups', 'errors', 'events', 'health', 'inputs', 'logs', 'loop_lag', 'metrics', 'notifications',
           'settings']
