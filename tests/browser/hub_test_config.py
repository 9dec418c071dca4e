"""The workshop hub of docs/hub/jupyterhub_config.py, with only what a test must change.

tests/browser/test_workshop_hub.py starts ``python -m jupyterhub -f`` this file. It loads the
instructor guide's configuration unchanged, then overrides, from ``LORA_HUB_TEST`` (JSON
written by the test), only what a throw-away hub on a shared machine needs:

* plain HTTP on 127.0.0.1 and free ports instead of HTTPS on every interface;
* the test's own Unix groups of learners and instructors (its accounts are made per run);
* the test's exchange folder;
* room for its three learners' servers also on a CI machine with little memory (the
  guide's file allows one server per GB beyond 2 GB; notebook 11 needs far less);
* the test's learner environment: ``LD_LIBRARY_PATH`` reaches the servers, because the
  environment may be a linked copy of a Python whose ``libpython`` sits elsewhere.

Everything else (PAM, LocalProcessSpawner, the idle culler, the servers' environment, the
limits) is what the guide's file says.
"""

import json
import os

c = get_config()  # noqa: F821
settings = json.loads(os.environ["LORA_HUB_TEST"])
load_subconfig(settings["config"])  # noqa: F821 (docs/hub/jupyterhub_config.py)

c.JupyterHub.bind_url = f"http://127.0.0.1:{settings['port']}"
c.JupyterHub.ssl_cert = ""
c.JupyterHub.ssl_key = ""
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.PAMAuthenticator.allowed_groups = {settings["learners"], settings["instructors"]}
c.PAMAuthenticator.admin_groups = {settings["instructors"]}
c.Spawner.environment["LORA_TUTORIAL_EXCHANGE"] = settings["exchange"]
c.Spawner.env_keep.append("LD_LIBRARY_PATH")
c.JupyterHub.active_server_limit = max(c.JupyterHub.active_server_limit,
                                       settings["servers"])
