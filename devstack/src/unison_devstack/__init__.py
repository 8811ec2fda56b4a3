"""Docker-free local runner and real-server launchers."""
