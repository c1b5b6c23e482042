"""The systemd journal as a source (`logpipe journald`): kubelet, the container
runtime and every other unit, followed through ``journalctl --output=json`` with a
saved cursor so a restart resumes exactly after the last acknowledged entry."""
