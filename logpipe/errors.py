"""One exception root for logpipe.

    LogpipeError                 (retriable = False)
    ├── RecordError              a value is not a valid record (poison: dead-letter it)
    ├── ConfigError              settings refused at start-up
    ├── StackError               the local stack could not start, stop or answer
    │   └── PortInUseError       a port the stack needs is taken by something else
    └── TransientError           (retriable = True) a peer is down or overloaded

Callers branch on ``exc.retriable`` rather than on concrete classes, as aiokafka's
``KafkaError`` does, so poison and transient failures take different roads.
"""

from __future__ import annotations


class LogpipeError(Exception):
    retriable: bool = False


class RecordError(LogpipeError):
    """The bytes are not a record of the current contract."""


class ConfigError(LogpipeError):
    """Settings were refused."""


class StackError(LogpipeError):
    """The local Kafka/Elasticsearch stack failed."""


class PortInUseError(StackError):
    def __init__(self, port: int, owner: str) -> None:
        super().__init__(
            f"port {port} on 127.0.0.1 is already taken by something that is not "
            f"logpipe's {owner}; stop it or choose another port (see `logpipe stack up --help`)"
        )
        self.port = port


class TransientError(LogpipeError):
    retriable = True
