"""Operator: what the admin pages do across users (`admin`) and the setup checklist that says what is left to
configure (`setup_checklist`). Other packages import these modules by name."""

__all__ = ['admin', 'setup_checklist']
