"""Accounts: sign-up, sign-in, sessions and API tokens (`accounts`), password hashing (`passwords`), and the
sliding windows that slow down guessing (`login_limits`). Other packages import these modules by name."""

__all__ = ['accounts', 'login_limits', 'passwords']
