"""One writer process for tests/test_concurrent_writers.py: `python -m tests.concurrent_writer PATH WORKER ROUNDS`
writes through one of the application's write paths ROUNDS times against the SQLite file in DATABASE_URL, and exits
non-zero with the error if any write fails."""
import os
import sys

import models
from services.accounts import accounts, passwords
from services.platform.settings import configure, load_settings
from services.provisioning import agents

PASSWORD = 'correct horse battery'


def write_accounts(worker: str, rounds: int) -> None:
    """Sign-ups as the page stores them once the password is hashed (hashed once here, to write often)."""
    password_hash = passwords.hash_now(PASSWORD)
    for round_number in range(rounds):
        user = accounts.insert_user(email=f'w{worker}-{round_number}@example.com', password_hash=password_hash)
        accounts.create_token(user=user, name=f'round {round_number}')


def write_agents(worker: str, rounds: int) -> None:
    owner = accounts.find_user(f'owner{worker}@example.com')
    agent = agents.create_agent(owner=owner, data={'name': f'Bot {worker}'})
    for round_number in range(rounds):
        agents.update_agent(owner=owner, agent_id=agent.id, data={'description': f'round {round_number}'})


PATHS = {'accounts': write_accounts, 'agents': write_agents}

if __name__ == '__main__':
    path, worker, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    configure(load_settings())
    models.open_database(os.environ['DATABASE_URL'])
    PATHS[path](worker, rounds)
