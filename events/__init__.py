"""The Kubernetes Event watcher (`logpipe events`): one replica (or several with
leader election through a Lease) lists and watches Event objects and produces one
record per event to Kafka, resuming from a saved resourceVersion."""
