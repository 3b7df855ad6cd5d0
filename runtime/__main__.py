"""`python -m runtime`: serve the agent on HOST:PORT, configured by the AgentHost at AGENTHOST_URL."""
import logging
import os
import sys

import uvicorn

from .app import create_app


def main() -> None:
    if not os.environ.get('AGENTHOST_URL') or not os.environ.get('AGENTHOST_RUNTIME_TOKEN'):
        sys.exit('AGENTHOST_URL and AGENTHOST_RUNTIME_TOKEN must be set')
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s %(message)s')
    for chatty in ('httpx', 'httpx2'):  # one line per heartbeat and per model call says nothing an operator needs
        logging.getLogger(chatty).setLevel(logging.WARNING)
    uvicorn.run(create_app(), host=os.environ.get('HOST', '127.0.0.1'), port=int(os.environ.get('PORT', '8080')),
                log_level='warning', timeout_graceful_shutdown=5)


if __name__ == '__main__':
    main()
