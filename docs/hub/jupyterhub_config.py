"""JupyterHub for a LoRA workshop on one machine (docs/instructor.md, "Running the course on
a JupyterHub", explains every step; tests/browser/test_workshop_hub.py runs this very file).

What it sets up:

* **local accounts**: learners log in with the password of their account on this machine
  (PAM), which the instructor creates (``useradd``, ``chpasswd``); only members of the group
  ``LEARNERS`` or ``INSTRUCTORS`` may log in, and instructors are the hub's admins;
* **one server per learner, as that learner** (LocalProcessSpawner): JupyterLab from the
  course's environment (the Python that runs the hub), on 127.0.0.1, in the learner's home;
* **the idle culler** (jupyterhub-idle-culler, a hub service): a server nobody used for an
  hour is stopped, which gives its memory back;
* **the servers' environment**: ``OMP_NUM_THREADS=1`` (one PyTorch thread per kernel, so many
  kernels share the cores instead of fighting over them) and ``LORA_TUTORIAL_EXCHANGE``, the
  folder ``lora_tutorial.quiz.submit()`` hands answers in to;
* **sizing**: one notebook's kernel peaks at about half a gigabyte (README, "Binder": 527 MB
  for notebook 05, 511 MB for notebook 07); with the JupyterLab server around it, 1 GB per
  learner running one notebook at a time. ``active_server_limit`` is *enforced*: the hub
  starts no more servers than fit in this machine's memory at 1 GB each. ``mem_limit`` and
  ``cpu_limit`` are *not enforced* by LocalProcessSpawner: it only hands them to the server
  as ``MEM_LIMIT`` and ``CPU_LIMIT`` (which jupyter-resource-usage would display); a learner
  who opens several notebooks can use more. To enforce them per learner, use SystemdSpawner
  (see the instructor guide).

Run it as root (PAM must read the password database and servers start as other accounts),
from the folder that keeps the hub's database and cookie secret::

    cd /srv/jupyterhub && sudo /opt/lora-course/.venv/bin/python -m jupyterhub \\
        -f /opt/lora-course/docs/hub/jupyterhub_config.py
"""

import os
import shutil
import sys

c = get_config()  # noqa: F821 (JupyterHub provides get_config when it loads this file)

# -- The workshop: change these ------------------------------------------------------------
LEARNERS = "lora-learners"  # Unix group of the learners' accounts
INSTRUCTORS = "lora-instructors"  # Unix group of the instructors (hub admins; read the exchange)
EXCHANGE = "/srv/lora_exchange"  # install -d -o INSTRUCTOR -g lora-instructors -m 3733 ...
PUBLIC_URL = "https://:443"  # where learners connect: HTTPS, passwords cross the network
TLS_CERT = "/etc/ssl/lora-hub/fullchain.pem"
TLS_KEY = "/etc/ssl/lora-hub/privkey.pem"
IDLE_TIMEOUT_S = 3600  # stop a server nobody used for an hour

# -- Sizing, from the measured kernel peaks (see the module docstring) ---------------------
MEMORY_PER_LEARNER = 1024**3  # one notebook's kernel (~0.5 GB at its peak) + JupyterLab
MEMORY_FOR_THE_SYSTEM = 2 * 1024**3  # the hub, the proxy, the operating system
machine_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

# -- Who may log in ------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {LEARNERS, INSTRUCTORS}
c.PAMAuthenticator.admin_groups = {INSTRUCTORS}

# -- Where the hub listens -----------------------------------------------------------------
c.JupyterHub.bind_url = PUBLIC_URL
c.JupyterHub.ssl_cert = TLS_CERT
c.JupyterHub.ssl_key = TLS_KEY
c.JupyterHub.hub_ip = "127.0.0.1"  # the hub's own API: only the proxy and servers call it
# configurable-http-proxy from npm, installed into the course's environment
# (npm install --prefix ENV configurable-http-proxy), else the one on the PATH.
proxy = os.path.join(sys.prefix, "node_modules", ".bin", "configurable-http-proxy")
c.ConfigurableHTTPProxy.command = [
    proxy if os.path.exists(proxy) else shutil.which("configurable-http-proxy")
    or "configurable-http-proxy"
]

# -- Each learner's server -----------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
# The course's environment is the one running the hub: every learner must be able to read
# and execute it (e.g. /opt/lora-course/.venv, not a folder under /root).
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.ip = "127.0.0.1"
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    "OMP_NUM_THREADS": "1",
    "LORA_TUTORIAL_EXCHANGE": EXCHANGE,
}
c.Spawner.mem_limit = MEMORY_PER_LEARNER  # advisory here (MEM_LIMIT), see the docstring
c.Spawner.cpu_limit = 1.0  # advisory here (CPU_LIMIT)
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.active_server_limit = max(
    1, (machine_memory - MEMORY_FOR_THE_SYSTEM) // MEMORY_PER_LEARNER)
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server

# -- The idle culler -----------------------------------------------------------------------
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={IDLE_TIMEOUT_S}", "--cull-every=300"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
